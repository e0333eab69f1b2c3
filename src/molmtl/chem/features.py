"""Model inputs from molecules: a 2D graph (atom and bond features) and 3D (Z, positions).

The 2D graph is the hydrogen-suppressed RDKit graph, as in chemprop and the GCN/MPNN QM9
literature; atom features record the hydrogens each heavy atom carries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from molmtl.chem.rdkit_util import mol_from_smiles

#: One-hot vocabularies; the last slot of each is "other". ``ELEMENTS`` is QM9 models' element
#: vocabulary; a model trained on other elements passes its own (``TrainConfig.elements``).
ELEMENTS = (1, 6, 7, 8, 9)
DEGREES = (0, 1, 2, 3, 4, 5)
FORMAL_CHARGES = (-1, 0, 1)
NUM_HS = (0, 1, 2, 3, 4)
HYBRIDIZATIONS = ("SP", "SP2", "SP3")
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")



def atom_feature_dim(elements: tuple[int, ...] = ELEMENTS) -> int:
    """Width of :func:`atom_features` with the element vocabulary ``elements``."""
    return (len(elements) + 1) + (len(DEGREES) + 1) + (len(FORMAL_CHARGES) + 1) + (len(NUM_HS) + 1) + (len(HYBRIDIZATIONS) + 1) + 2


ATOM_FEATURE_DIM = atom_feature_dim(ELEMENTS)
BOND_FEATURE_DIM = len(BOND_TYPES) + 2


def _one_hot(value, choices) -> list[float]:
    out = [0.0] * (len(choices) + 1)
    out[choices.index(value) if value in choices else len(choices)] = 1.0
    return out


def atom_features(atom, elements: tuple[int, ...] = ELEMENTS) -> list[float]:
    """Element (one-hot over ``elements`` + other), degree, formal charge, attached H count,
    hybridization, aromatic, in ring."""
    return (
        _one_hot(atom.GetAtomicNum(), tuple(elements))
        + _one_hot(atom.GetTotalDegree(), DEGREES)
        + _one_hot(atom.GetFormalCharge(), FORMAL_CHARGES)
        + _one_hot(atom.GetTotalNumHs(), NUM_HS)
        + _one_hot(str(atom.GetHybridization()), HYBRIDIZATIONS)
        + [float(atom.GetIsAromatic()), float(atom.IsInRing())]
    )


def bond_features(bond) -> list[float]:
    """Bond type (single, double, triple, aromatic), conjugated, in ring."""
    return _one_hot(str(bond.GetBondType()), BOND_TYPES)[:-1] + [float(bond.GetIsConjugated()), float(bond.IsInRing())]


@dataclass(frozen=True)
class Graph2D:
    """A molecular graph: ``x`` (n, ATOM_FEATURE_DIM), ``edge_index`` (2, 2m) both directions,
    ``edge_attr`` (2m, BOND_FEATURE_DIM), ``z`` (n,) atomic numbers of the nodes."""

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    z: np.ndarray


def graph_from_rdkit(mol, elements: tuple[int, ...] = ELEMENTS) -> Graph2D:
    """Graph2D of an RDKit molecule (hydrogens suppressed: they become atom features), atoms
    one-hot over the element vocabulary ``elements``."""
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    mol = Chem.RemoveHs(mol, sanitize=False) if any(a.GetAtomicNum() == 1 for a in mol.GetAtoms()) and mol.GetNumHeavyAtoms() else mol
    x = np.array([atom_features(a, elements) for a in mol.GetAtoms()], dtype=np.float32).reshape(-1, atom_feature_dim(elements))
    src, dst, attr = [], [], []
    for b in mol.GetBonds():
        i, j, f = b.GetBeginAtomIdx(), b.GetEndAtomIdx(), bond_features(b)
        src += [i, j]
        dst += [j, i]
        attr += [f, f]
    return Graph2D(
        x=x,
        edge_index=np.array([src, dst], dtype=np.int64).reshape(2, -1),
        edge_attr=np.array(attr, dtype=np.float32).reshape(-1, BOND_FEATURE_DIM),
        z=np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=np.int64),
    )


def graph_from_smiles(smiles: str, elements: tuple[int, ...] = ELEMENTS) -> Graph2D:
    """Graph2D from SMILES (InputError for an invalid one)."""
    return graph_from_rdkit(mol_from_smiles(smiles), elements)
