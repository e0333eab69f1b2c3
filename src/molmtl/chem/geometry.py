"""Geometry sanity: the checks every method runs on a geometry before it uses it.

A geometry is refused (InputError, one sentence naming the atoms) when a coordinate is not
finite, when two atoms are closer than :data:`MIN_DISTANCE_ANGSTROM`, or when it has more atoms
than the method's limit. Several fragments (groups of atoms with no covalent contact between
them: closer than :data:`CONTACT_FACTOR` times the sum of Cordero's covalent radii) are
reported by :func:`fragments`; quantum methods refuse them, the network warns.
"""

from __future__ import annotations

import numpy as np

from molmtl.chem.elements import COVALENT_RADIUS_ANGSTROM, symbol
from molmtl.chem.molecule import Molecule
from molmtl.errors import InputError

#: Closer than this (Angstrom), two atoms are the same point to every method: the shortest bond
#: (H2) is 0.74 Angstrom.
MIN_DISTANCE_ANGSTROM = 0.5
#: Atoms closer than this factor times the sum of their covalent radii are in covalent contact.
CONTACT_FACTOR = 1.3


def _label(mol: Molecule) -> str:
    return mol.name or mol.smiles or mol.formula


def _atom(mol: Molecule, i: int) -> str:
    return f"{i + 1} ({symbol(mol.atomic_numbers[i])})"


def distances_angstrom(positions: np.ndarray) -> np.ndarray:
    """``(n, n)`` interatomic distances (Angstrom)."""
    diff = positions[:, None, :] - positions[None, :, :]
    return np.sqrt((diff * diff).sum(-1))


def check_geometry(mol: Molecule, *, max_atoms: int | None = None, method: str = "this method") -> None:
    """InputError unless ``mol`` has a usable geometry for ``method``: finite coordinates, no two
    atoms closer than :data:`MIN_DISTANCE_ANGSTROM`, at most ``max_atoms`` atoms."""
    if mol.positions is None:
        raise InputError(f"{_label(mol)} has no 3D geometry, which {method} needs")
    if max_atoms is not None and mol.n_atoms > max_atoms:
        raise InputError(f"{_label(mol)} has {mol.n_atoms} atoms; {method} takes at most {max_atoms}")
    pos = np.asarray(mol.positions, dtype=float)
    bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))
    if len(bad):
        raise InputError(f"{_label(mol)}: atom {_atom(mol, int(bad[0]))} has a coordinate that is not a finite number")
    if mol.n_atoms < 2:
        return
    d = distances_angstrom(pos)
    np.fill_diagonal(d, np.inf)
    i, j = np.unravel_index(int(np.argmin(d)), d.shape)
    if d[i, j] < MIN_DISTANCE_ANGSTROM:
        i, j = min(i, j), max(i, j)
        raise InputError(f"{_label(mol)}: atoms {_atom(mol, i)} and {_atom(mol, j)} are {d[i, j]:.3f} Angstrom apart "
                         f"(at least {MIN_DISTANCE_ANGSTROM} expected): not a molecular geometry")


def fragments(mol: Molecule) -> list[list[int]]:
    """Groups of atom indices joined by covalent contacts (one group for a connected molecule)."""
    n = mol.n_atoms
    if mol.positions is None or n == 0:
        return [list(range(n))]
    z = np.asarray(mol.atomic_numbers)
    radii = np.array([COVALENT_RADIUS_ANGSTROM[int(a)] if 0 < a < len(COVALENT_RADIUS_ANGSTROM) else 1.5 for a in z])
    contact = distances_angstrom(np.asarray(mol.positions, float)) < CONTACT_FACTOR * (radii[:, None] + radii[None, :])
    parent = list(range(n))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(*np.nonzero(np.triu(contact, 1))):
        parent[root(int(a))] = root(int(b))
    groups: dict[int, list[int]] = {}
    for a in range(n):
        groups.setdefault(root(a), []).append(a)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def fragment_note(mol: Molecule) -> str | None:
    """A sentence when ``mol``'s geometry falls into several fragments, else None."""
    parts = fragments(mol)
    if len(parts) < 2:
        return None
    formulas = [Molecule(mol.atomic_numbers[p]).formula for p in parts[:4]]
    more = f" and {len(parts) - 4} more" if len(parts) > 4 else ""
    return (f"its geometry falls into {len(parts)} fragments with no covalent contact between them "
            f"({', '.join(formulas)}{more})")


def require_one_fragment(mol: Molecule, method: str) -> None:
    """InputError when ``mol``'s geometry has several fragments (for methods of one molecule)."""
    note = fragment_note(mol)
    if note is not None:
        raise InputError(f"{_label(mol)}: {note}; {method} takes one molecule at a time")


__all__ = ["MIN_DISTANCE_ANGSTROM", "CONTACT_FACTOR", "check_geometry", "fragments", "fragment_note",
           "require_one_fragment", "distances_angstrom"]
