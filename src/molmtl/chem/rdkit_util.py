"""Small RDKit helpers: quiet parsing with the reason for a failure."""

from __future__ import annotations

from contextlib import contextmanager

from molmtl.errors import InputError


@contextmanager
def quiet_rdkit():
    """Silence RDKit's C++ logging (we report problems ourselves)."""
    from rdkit import RDLogger  # lazy: RDKit is optional (XYZ-only hosts)

    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


def mol_from_smiles(smiles: str):
    """RDKit molecule (hydrogens implicit) from SMILES, or InputError saying why not."""
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    text = smiles.strip()
    if not text:
        raise InputError("empty SMILES string")
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(text)
        if mol is not None:
            if any(b.HasQuery() for b in mol.GetBonds()) or any(a.HasQuery() for a in mol.GetAtoms()):
                raise InputError(f"{text!r} has query features (such as '~' any-bonds or '*' atoms): a pattern, "
                                 "not one molecule")
            return mol
        raw = Chem.MolFromSmiles(text, sanitize=False)
        if raw is None:
            raise InputError(f"{text!r} is not a valid SMILES string (syntax error, e.g. an unclosed ring or bracket)")
        problems = Chem.DetectChemistryProblems(raw)
    reason = problems[0].Message() if problems else "RDKit could not sanitize it"
    raise InputError(f"{text!r} is not a valid SMILES string: {reason}")


def canonical_smiles(mol, isomeric: bool = True) -> str:
    """RDKit canonical SMILES with hydrogens implicit."""
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    return Chem.MolToSmiles(Chem.RemoveHs(mol), isomericSmiles=isomeric)


def inchikey(mol) -> str | None:
    """InChIKey of an RDKit molecule, None if InChI generation fails."""
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    with quiet_rdkit():
        try:
            key = Chem.MolToInchiKey(mol)
        except Exception:  # InChI fails on exotic input; the key is only used for look-ups
            return None
    return key or None
