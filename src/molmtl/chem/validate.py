"""Domain checks: is a molecule inside what a method (or QM9) covers?"""

from __future__ import annotations

from molmtl import units
from molmtl.chem.molecule import Molecule
from molmtl.errors import UnsupportedMoleculeError


def domain_problems(mol: Molecule) -> list[str]:
    """Sentences describing where ``mol`` leaves QM9's chemical space (empty if inside)."""
    problems = []
    others = sorted({s for s, z in zip(mol.symbols, mol.atomic_numbers) if int(z) not in units.QM9_ELEMENTS})
    if others:
        problems.append(f"contains {', '.join(others)}; QM9 has only H, C, N, O and F")
    if mol.charge != 0:
        problems.append(f"has total charge {mol.charge:+d}; QM9 molecules are neutral")
    if mol.multiplicity != 1:
        problems.append(f"has spin multiplicity {mol.multiplicity}; QM9 molecules are closed-shell singlets")
    if mol.n_heavy_atoms > units.QM9_MAX_HEAVY_ATOMS:
        problems.append(f"has {mol.n_heavy_atoms} heavy atoms; QM9 has at most {units.QM9_MAX_HEAVY_ATOMS}")
    elif mol.n_atoms > units.QM9_MAX_ATOMS:
        problems.append(f"has {mol.n_atoms} atoms; QM9 has at most {units.QM9_MAX_ATOMS}")
    return problems


def require_supported(
    mol: Molecule,
    *,
    elements: frozenset[int] = units.QM9_ELEMENTS,
    allow_charged: bool = False,
    allow_open_shell: bool = False,
    method: str = "this method",
) -> None:
    """Raise UnsupportedMoleculeError if ``method`` cannot handle ``mol``."""
    label = mol.name or mol.smiles or mol.formula
    bad = sorted({s for s, z in zip(mol.symbols, mol.atomic_numbers) if int(z) not in elements})
    if bad:
        raise UnsupportedMoleculeError(f"{label} contains {', '.join(bad)}, which {method} does not support")
    if mol.charge != 0 and not allow_charged:
        raise UnsupportedMoleculeError(f"{label} has charge {mol.charge:+d}; {method} supports only neutral molecules")
    if (mol.n_electrons % 2) != (mol.multiplicity - 1) % 2:
        raise UnsupportedMoleculeError(
            f"{label} has {mol.n_electrons} electrons, which cannot have spin multiplicity {mol.multiplicity}"
        )
    if mol.multiplicity != 1 and not allow_open_shell:
        raise UnsupportedMoleculeError(f"{label} is open-shell (multiplicity {mol.multiplicity}); {method} supports only closed shells")
