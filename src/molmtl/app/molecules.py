"""Molecules as the API takes them: a SMILES or QM9 id (the page's one box), or an XYZ/SDF text block.

Nothing here reads a file: the client's text is parsed as text (a SMILES is never taken for a
path, as :func:`molmtl.data.inputs.read_molecule` would for a command line). A molecule is stored
as JSON (:func:`molecule_to_json`) under a key of its identity and geometry (:func:`molecule_key`),
so that a job, a page URL and a server restart all find the same molecule (``stored.py``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from molmtl.chem.geometry import check_geometry
from molmtl.chem.molecule import Molecule
from molmtl.chem.parse import (
    from_smiles,
    from_xyz_text,
    molecule_from_rdkit,
    parse_qm9_id,
)
from molmtl.chem.rdkit_util import mol_from_smiles, quiet_rdkit
from molmtl.chem.validate import domain_problems
from molmtl.data.qm9 import QM9
from molmtl.errors import InputError
from molmtl.methods.ml import ML_MAX_ATOMS

#: A SMILES is given a 3D geometry (ETKDG + MMFF) only up to this many atoms, hydrogens included:
#: the embedding of a larger one can take minutes, too long for a request.
MAX_EMBED_ATOMS = 200
#: A geometry (XYZ, SDF) has at most this many atoms: the most any method takes (the network's).
MAX_GEOMETRY_ATOMS = ML_MAX_ATOMS

#: Names the page's QM9 picker knows (lower case -> SMILES): molecules that are in QM9.
COMMON_NAMES = {
    "methane": "C", "ammonia": "N", "water": "O", "hydrogen fluoride": "F", "acetylene": "C#C",
    "hydrogen cyanide": "C#N", "formaldehyde": "C=O", "ethane": "CC", "methanol": "CO", "ethylene": "C=C",
    "methylamine": "CN", "acetonitrile": "CC#N", "acetaldehyde": "CC=O", "formamide": "NC=O",
    "ethanol": "CCO", "dimethyl ether": "COC", "propane": "CCC", "acetone": "CC(C)=O", "acetic acid": "CC(=O)O",
    "urea": "NC(N)=O", "propene": "C=CC", "propyne": "C#CC", "cyclopropane": "C1CC1", "butane": "CCCC",
    "isobutane": "CC(C)C", "benzene": "c1ccccc1", "pyridine": "c1ccncc1", "furan": "c1ccoc1",
    "pyrrole": "c1cc[nH]c1", "phenol": "Oc1ccccc1", "aniline": "Nc1ccccc1", "toluene": "Cc1ccccc1",
    "fluorobenzene": "Fc1ccccc1", "3-fluoropyridine": "Fc1cccnc1", "glycine": "NCC(=O)O",
    "cyclohexane": "C1CCCCC1", "pyrimidine": "c1cncnc1", "imidazole": "c1c[nH]cn1", "oxazole": "c1cocn1",
    "glycerol": "OCC(O)CO", "alanine": "CC(N)C(=O)O", "acrylonitrile": "C=CC#N",
}


def molecule_from_query(text: str, qm9: QM9, *, largest_fragment: bool = False) -> Molecule:
    """A SMILES, a QM9 id (``qm9:14``, ``14``, ``gdb_14``) or a name of :data:`COMMON_NAMES` -> a Molecule.

    A QM9 id gives QM9's molecule with its B3LYP geometry; a SMILES gets an RDKit ETKDG + MMFF
    geometry. QM9-domain problems are in the molecule's ``warnings``.
    """
    query = text.strip()
    if not query:
        raise InputError("no molecule given: type a SMILES, a QM9 id (qm9:14) or a name")
    index = parse_qm9_id(query)
    if index is not None:
        return qm9.molecule(qm9.position_of_index(index))
    if query.lower().startswith(("qm9:", "gdb")):
        raise InputError(f"{query!r} is not a QM9 id; write qm9: and a number, e.g. qm9:14")
    name = query.lower()
    if name in COMMON_NAMES:
        return _with_domain(from_smiles(COMMON_NAMES[name], name=name))
    rd = mol_from_smiles(query)
    n_atoms = rd.GetNumAtoms() + sum(a.GetTotalNumHs() for a in rd.GetAtoms())
    if n_atoms > MAX_EMBED_ATOMS:
        raise InputError(f"{query[:60]!r} has {n_atoms} atoms with its hydrogens; a SMILES gets a 3D geometry here "
                         f"up to {MAX_EMBED_ATOMS}: give an XYZ or SDF geometry instead")
    return _with_domain(from_smiles(query, largest_fragment=largest_fragment))


def molecule_from_xyz(text: str, *, name: str | None = None, charge: int | None = None,
                      multiplicity: int | None = None) -> Molecule:
    """XYZ text -> a Molecule (charge 0 unless given; multiplicity the lowest the electrons allow)."""
    head = text.lstrip().split(None, 1)[:1]
    if head and head[0].isdigit() and int(head[0]) > MAX_GEOMETRY_ATOMS:  # before bond perception, which is slow
        raise InputError(f"{name or 'XYZ input'} has {int(head[0])} atoms; at most {MAX_GEOMETRY_ATOMS} are taken")
    mol = from_xyz_text(text, name=name or None, charge=charge or 0, multiplicity=multiplicity)
    return _with_domain(_checked_geometry(mol))


def molecule_from_sdf(text: str, *, name: str | None = None) -> Molecule:
    """The first record of an SDF/MOL text block -> a Molecule (hydrogens kept; 3D coordinates
    used when present, else an ETKDG + MMFF embedding)."""
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    label = name or "SDF input"
    block = text.split("$$$$", 1)[0]
    if not block.strip():
        raise InputError(f"{label}: the SDF/MOL block is empty")
    with quiet_rdkit():
        try:
            rdmol = Chem.MolFromMolBlock(block, removeHs=False, sanitize=True)
        except (RuntimeError, ValueError):  # RDKit's reader on a malformed block
            rdmol = None
    if rdmol is None:
        raise InputError(f"{label}: no valid molecule could be read from this SDF/MOL block")
    if rdmol.GetNumAtoms() == 0:
        raise InputError(f"{label}: the SDF/MOL block has no atoms")
    if rdmol.GetNumAtoms() > MAX_GEOMETRY_ATOMS:
        raise InputError(f"{label} has {rdmol.GetNumAtoms()} atoms; at most {MAX_GEOMETRY_ATOMS} are taken")
    if rdmol.GetNumConformers():
        pos = rdmol.GetConformer().GetPositions()
        if not np.isfinite(pos).all():
            raise InputError(f"{label}: a coordinate is not a finite number")
    mol = molecule_from_rdkit(rdmol, name=name or None, source="sdf", embed=True)
    return _with_domain(_checked_geometry(mol))


def _checked_geometry(mol: Molecule) -> Molecule:
    """InputError for a geometry no method takes: too many atoms, NaN, coincident atoms."""
    check_geometry(mol, max_atoms=MAX_GEOMETRY_ATOMS, method="the web API")
    return mol


def _with_domain(mol: Molecule) -> Molecule:
    problems = tuple(p for p in domain_problems(mol) if p not in mol.warnings)
    return replace(mol, warnings=mol.warnings + problems) if problems else mol


# ---------------------------------------------------------------------- what the page shows
def depiction_svg(mol: Molecule, size: tuple[int, int] = (320, 240)) -> str | None:
    """RDKit's 2D depiction (SVG) of the molecule's SMILES; None without one. The SVG is drawn
    from the parsed molecule (atoms and bonds only: no name or other text of the user's)."""
    if not mol.smiles:
        return None
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)
    from rdkit.Chem.Draw import rdMolDraw2D  # lazy: as above

    with quiet_rdkit():
        rd = Chem.MolFromSmiles(mol.smiles)
        if rd is None:
            return None
        drawer = rdMolDraw2D.MolDraw2DSVG(*size)
        drawer.drawOptions().clearBackground = False
        rdMolDraw2D.PrepareAndDrawMolecule(drawer, rd)
        drawer.FinishDrawing()
        return drawer.GetDrawingText()


__all__ = ["molecule_from_query", "molecule_from_xyz", "molecule_from_sdf", "depiction_svg", "COMMON_NAMES",
           "MAX_EMBED_ATOMS", "MAX_GEOMETRY_ATOMS"]
