"""Turn what a user types or gives (SMILES, XYZ, SDF/MOL, a QM9 id) into a Molecule."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from molmtl.chem.elements import NUMBERS
from molmtl.chem.embed import FALLBACK_NOTE, FALLBACK_PROP, embed_rdkit, rdkit_positions
from molmtl.chem.molecule import Molecule
from molmtl.chem.rdkit_util import canonical_smiles, mol_from_smiles, quiet_rdkit
from molmtl.chem.validate import domain_problems
from molmtl.errors import InputError, NotFoundError

_QM9_ID = re.compile(r"^(?:qm9[:_-]?|gdb[_-]?|dsgdb9nsd_)?0*(\d+)(?:\.xyz)?$", re.IGNORECASE)
_FILE_SUFFIXES = {".xyz", ".sdf", ".mol", ".mol2", ".csv", ".pdb"}


def parse_qm9_id(text: str) -> int | None:
    """QM9 index from ``"1"``, ``"qm9:1"``, ``"gdb_1"`` or ``"dsgdb9nsd_000001"``; None otherwise."""
    m = _QM9_ID.match(text.strip())
    return int(m.group(1)) if m else None


def _total_charge_and_multiplicity(rdmol) -> tuple[int, int]:
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    charge = Chem.GetFormalCharge(rdmol)
    radicals = sum(a.GetNumRadicalElectrons() for a in rdmol.GetAtoms())
    return charge, radicals + 1


def molecule_from_rdkit(rdmol, *, name: str | None, source: str, embed: bool) -> Molecule:
    """Molecule (hydrogens explicit) from an RDKit molecule; embeds in 3D if it has no conformer."""
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    charge, mult = _total_charge_and_multiplicity(rdmol)
    smiles = canonical_smiles(rdmol)
    warnings = []
    if rdmol.GetNumConformers() and rdmol.GetConformer().Is3D():
        full = Chem.AddHs(rdmol, addCoords=True)
        positions = rdkit_positions(full)
    elif embed:
        full = embed_rdkit(rdmol)
        positions = rdkit_positions(full)
        if full.HasProp(FALLBACK_PROP):
            warnings.append(FALLBACK_NOTE)
    else:
        full = Chem.AddHs(rdmol)
        positions = None
    z = np.array([a.GetAtomicNum() for a in full.GetAtoms()])
    isotopes = sorted({f"{a.GetIsotope()}{a.GetSymbol()}" for a in full.GetAtoms() if a.GetIsotope()})
    if isotopes:
        warnings.append(f"isotope labels ({', '.join(isotopes)}) are ignored: masses, frequencies and rotational "
                        "constants use the most abundant isotopes")
    return Molecule(z, positions, smiles=smiles, charge=charge, multiplicity=mult, name=name or smiles, source=source,
                    warnings=tuple(warnings))


def from_smiles(smiles: str, *, embed: bool = True, name: str | None = None, largest_fragment: bool = False) -> Molecule:
    """Molecule from SMILES; with ``embed`` a deterministic ETKDG + MMFF geometry.

    A SMILES of several fragments (``CCO.O``, a salt) is refused for a 3D geometry, whose
    fragments would be placed on top of each other, unless ``largest_fragment`` keeps the one
    with the most heavy atoms (with a warning). 2D graphs (``embed=False``) keep every fragment.
    """
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    rdmol = mol_from_smiles(smiles)
    label = name or smiles.strip()
    parts = Chem.GetMolFrags(rdmol, asMols=True, sanitizeFrags=True)
    note = None
    if len(parts) > 1 and (embed or largest_fragment):
        kept = max(parts, key=lambda m: (m.GetNumHeavyAtoms(), m.GetNumAtoms()))
        if not largest_fragment:
            raise InputError(f"{smiles.strip()!r} has {len(parts)} fragments ({', '.join(canonical_smiles(m) for m in parts[:4])}); "
                             "molmtl places one molecule in 3D: give one, or ask for the largest fragment only "
                             "(--largest-fragment; largest_fragment in the web API)")
        note = (f"{smiles.strip()} has {len(parts)} fragments; only the largest, {canonical_smiles(kept)}, is used "
                "(--largest-fragment)")
        rdmol = kept
    mol = molecule_from_rdkit(rdmol, name=label, source="smiles", embed=embed)
    return replace(mol, warnings=(note, *mol.warnings)) if note else mol


def _float(token: str, where: str) -> float:
    try:
        value = float(token.replace("*^", "e"))  # QM9's XYZ files write exponents as '*^'
    except ValueError:
        raise InputError(f"{where}: {token!r} is not a number") from None
    if not np.isfinite(value):
        raise InputError(f"{where}: {token!r} is not a finite coordinate")
    return value


def from_xyz_text(text: str, *, name: str | None = None, charge: int = 0, multiplicity: int | None = None) -> Molecule:
    """Molecule from XYZ text (count line, comment line, then ``symbol x y z`` in Angstrom).

    The multiplicity defaults to the lowest one the electron count allows (1 or 2).
    """
    label = name or "XYZ input"
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{label}: empty XYZ input; the first line must be the number of atoms")
    try:
        n = int(lines[0].split()[0])
    except ValueError:
        raise InputError(f"{label}: the first line of an XYZ file must be the number of atoms, not {lines[0].strip()!r}") from None
    if n <= 0:
        raise InputError(f"{label}: the atom count must be positive, got {n}")
    body = [ln for ln in lines[2 : 2 + n]]
    if len(body) < n or any(not ln.strip() for ln in body):
        raise InputError(f"{label}: the XYZ header says {n} atoms but fewer coordinate lines follow")
    z, pos = [], []
    for i, line in enumerate(body, start=3):
        parts = line.split()
        if len(parts) < 4:
            raise InputError(f"{label}, line {i}: expected 'symbol x y z', got {line.strip()!r}")
        sym = parts[0]
        number = int(sym) if sym.isdigit() else NUMBERS.get(sym.capitalize(), -1)
        if not 0 < number <= 118:
            raise InputError(f"{label}, line {i}: {sym!r} is not a chemical element")
        z.append(number)
        pos.append([_float(t, f"{label}, line {i}") for t in parts[1:4]])
    z_arr = np.array(z)
    n_el = int(z_arr.sum()) - charge
    mult = multiplicity if multiplicity is not None else (1 if n_el % 2 == 0 else 2)
    mol = Molecule(z_arr, np.array(pos), charge=charge, multiplicity=mult, name=name, source="xyz")
    smiles = xyz_to_smiles(mol)
    return Molecule(z_arr, np.array(pos), smiles=smiles, charge=charge, multiplicity=mult, name=name or smiles, source="xyz")


def xyz_to_smiles(mol: Molecule) -> str | None:
    """SMILES perceived from a geometry (RDKit's DetermineBonds); None where perception fails or
    RDKit is missing (a GPU node may run DFT on XYZ input without it)."""
    try:
        from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)
        from rdkit.Chem import (
            rdDetermineBonds,  # lazy: RDKit is optional (XYZ-only hosts)
        )
    except ImportError:
        return None

    block = mol.to_xyz(comment="")
    with quiet_rdkit():
        try:
            rd = Chem.MolFromXYZBlock(block)
            if rd is None:
                return None
            rdDetermineBonds.DetermineBonds(rd, charge=mol.charge)
            return canonical_smiles(rd)
        except Exception:  # bond perception is heuristic; a failure only loses the SMILES
            return None


def from_mol_file(path: Path) -> Molecule:
    """First molecule of an SDF or MOL file (hydrogens kept, 3D coordinates used if present)."""
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    with quiet_rdkit():
        try:
            supplier = Chem.SDMolSupplier(str(path), removeHs=False, sanitize=True)
            rdmol = next(iter(supplier), None) if len(supplier) else None
        except (OSError, RuntimeError, ValueError):  # RDKit's reader on a malformed file
            rdmol = None
    if rdmol is None:
        raise InputError(f"{path}: no valid molecule could be read from this SDF/MOL file")
    mol = molecule_from_rdkit(rdmol, name=path.stem, source="sdf", embed=True)
    if mol.positions is not None and not np.isfinite(mol.positions).all():
        raise InputError(f"{path}: a coordinate is not a finite number")
    return mol


def looks_like_path(text: str) -> bool:
    return Path(text).suffix.lower() in _FILE_SUFFIXES or "/" in text or "\\" in text


def parse_molecule(spec: str, *, embed: bool = True, qm9_molecule: Callable[[int], Molecule] | None = None,
                   charge: int | None = None, multiplicity: int | None = None, largest_fragment: bool = False) -> Molecule:
    """Molecule from a path, QM9 id or SMILES, with QM9-domain problems in ``warnings``.

    Methods that predict (ML) report those warnings; methods that cannot handle a molecule
    check it with :func:`molmtl.chem.validate.require_supported`. ``molmtl.data.inputs.read_molecule``
    is this with QM9 ids resolved from the QM9 dataset.

    ``charge`` and ``multiplicity`` are for geometry files (a SMILES carries its own formal
    charges and radicals; a QM9 molecule is neutral and closed-shell); ``largest_fragment`` keeps
    the largest fragment of a SMILES of several. See :func:`_parse_molecule` for the others.
    """
    mol = _parse_molecule(spec, embed=embed, qm9_molecule=qm9_molecule, charge=charge, multiplicity=multiplicity,
                          largest_fragment=largest_fragment)
    problems = tuple(domain_problems(mol))
    return replace(mol, warnings=mol.warnings + problems) if problems else mol


def _parse_molecule(spec: str, *, embed: bool = True, qm9_molecule: Callable[[int], Molecule] | None = None,
                    charge: int | None = None, multiplicity: int | None = None, largest_fragment: bool = False) -> Molecule:
    """Molecule from a path (.xyz, .sdf, .mol), a QM9 id or a SMILES string.

    Args:
        spec: what the user typed.
        embed: give SMILES input a 3D geometry (ETKDG + MMFF).
        qm9_molecule: QM9 index -> that molecule with QM9's geometry (QM9 ids are refused without it).
    """
    text = spec.strip()
    if not text:
        raise InputError("no molecule given (an empty argument)")
    path = Path(text)
    if looks_like_path(text) or path.is_file():
        if not path.is_file():
            if path.suffix.lower() not in _FILE_SUFFIXES:  # '/' and '\\' are also SMILES bond stereo (F/C=C/F)
                try:
                    mol_from_smiles(text)
                except InputError:
                    pass
                else:
                    return _smiles(text, embed, charge, multiplicity, largest_fragment)
            raise NotFoundError(f"file not found: {text}")
        suffix = path.suffix.lower()
        if suffix == ".xyz":
            mol = from_xyz_text(path.read_text(errors="replace"), name=path.stem, charge=charge or 0, multiplicity=multiplicity)
            return replace(mol, path=text)
        if suffix in (".sdf", ".mol"):
            mol = from_mol_file(path)
            return replace(_with_charge(mol, charge, multiplicity, "the SDF/MOL file's formal charges and radicals"), path=text)
        raise InputError(f"{text}: unsupported file type {suffix!r}; give .xyz, .sdf or .mol (or a CSV where a command takes many)")
    qm9_index = parse_qm9_id(text)
    if qm9_index is not None:
        if qm9_molecule is None:
            raise InputError(f"{text!r} looks like a QM9 id, and no QM9 dataset was given to look it up")
        return _with_charge(qm9_molecule(qm9_index), charge, multiplicity, "QM9's (neutral, closed-shell)")
    if text.lower().startswith("qm9:"):  # no SMILES starts so: say what a QM9 id looks like
        raise InputError(f"{text!r} is not a QM9 id; write qm9: and a number, e.g. qm9:14")
    return _smiles(text, embed, charge, multiplicity, largest_fragment)


def _smiles(text: str, embed: bool, charge, multiplicity, largest_fragment: bool) -> Molecule:
    mol = from_smiles(text, embed=embed, largest_fragment=largest_fragment)
    return _with_charge(mol, charge, multiplicity, "the SMILES's formal charges and radicals ([NH4+], [CH3])")


def _with_charge(mol: Molecule, charge: int | None, multiplicity: int | None, own: str) -> Molecule:
    """``mol``, refusing a --charge or --multiplicity that contradicts its own (``own`` says where they come from)."""
    if charge is not None and charge != mol.charge:
        raise InputError(f"{mol.name or mol.smiles}: the charge comes from {own} ({mol.charge:+d}); "
                         "--charge is for XYZ files")
    if multiplicity is not None and multiplicity != mol.multiplicity:
        raise InputError(f"{mol.name or mol.smiles}: the multiplicity comes from {own} ({mol.multiplicity}); "
                         "--multiplicity is for XYZ files")
    return mol
