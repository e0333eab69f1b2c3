"""3D geometry for a molecule given only as a graph: RDKit ETKDG, then MMFF94."""

from __future__ import annotations

import numpy as np

from molmtl.chem.rdkit_util import quiet_rdkit
from molmtl.errors import InputError

#: Fixed seed so the same SMILES always gets the same geometry.
EMBED_SEED = 0xC0FFEE


def embed_rdkit(rdmol, *, seed: int = EMBED_SEED, mmff: bool = True, max_iters: int = 2000):
    """Hydrogen-complete RDKit molecule with one conformer (Angstrom), deterministic for a seed.

    ETKDG v3 places the atoms; MMFF94 (or UFF where MMFF lacks parameters) relaxes them. RDKit's
    force-field typing warnings (e.g. UFF on charged atoms) are silenced.
    """
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(rdmol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    params.numThreads = 1
    with quiet_rdkit():
        if AllChem.EmbedMolecule(mol, params) != 0:
            params.useRandomCoords = True
            if AllChem.EmbedMolecule(mol, params) != 0:
                raise InputError(f"RDKit could not embed {Chem.MolToSmiles(rdmol)} in 3D")
        if mmff:
            if AllChem.MMFFHasAllMoleculeParams(mol):
                AllChem.MMFFOptimizeMolecule(mol, maxIters=max_iters)
            else:
                AllChem.UFFOptimizeMolecule(mol, maxIters=max_iters)
    return mol


def rdkit_positions(mol) -> np.ndarray:
    """Positions (Angstrom) of the molecule's first conformer."""
    return np.asarray(mol.GetConformer().GetPositions(), dtype=np.float64)
