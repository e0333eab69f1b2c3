"""The molecule every molmtl method takes: atoms, optional geometry, identity."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from molmtl import units
from molmtl.chem.elements import symbol


@dataclass(frozen=True, eq=False)
class Molecule:
    """A neutral or charged molecule, with or without a 3D geometry.

    Attributes:
        atomic_numbers: ``(n,)`` int array, hydrogens included.
        positions: ``(n, 3)`` float array in Angstrom, or None for a 2D-only molecule.
        smiles: a SMILES string when known (RDKit canonical where molmtl made it).
        charge: total charge in e.
        multiplicity: spin multiplicity 2S+1.
        name: a label for tables (file name, QM9 id, the SMILES given).
        qm9_index: QM9's molecule index (1..133885) when the molecule came from QM9.
        source: how it was made: ``smiles``, ``xyz``, ``sdf``, ``qm9``.
        path: the file it was read from, as the user gave it (None for other inputs): what a
            suggested command names.
    """

    atomic_numbers: np.ndarray
    positions: np.ndarray | None = None
    smiles: str | None = None
    charge: int = 0
    multiplicity: int = 1
    name: str | None = None
    qm9_index: int | None = None
    source: str = "unknown"
    warnings: tuple[str, ...] = field(default=())
    path: str | None = None

    def __post_init__(self):
        z = np.asarray(self.atomic_numbers, dtype=np.int64).reshape(-1)
        object.__setattr__(self, "atomic_numbers", z)
        if self.positions is not None:
            pos = np.asarray(self.positions, dtype=np.float64)
            if pos.shape != (len(z), 3):
                raise ValueError(f"positions have shape {pos.shape}, expected ({len(z)}, 3)")
            object.__setattr__(self, "positions", pos)

    @property
    def n_atoms(self) -> int:
        return int(len(self.atomic_numbers))

    @property
    def n_heavy_atoms(self) -> int:
        return int((self.atomic_numbers > 1).sum())

    @property
    def n_electrons(self) -> int:
        return int(self.atomic_numbers.sum()) - self.charge

    @property
    def symbols(self) -> list[str]:
        return [symbol(z) for z in self.atomic_numbers]

    @property
    def formula(self) -> str:
        """Hill formula, e.g. ``CH4``."""
        counts: dict[str, int] = {}
        for s in self.symbols:
            counts[s] = counts.get(s, 0) + 1
        first = [s for s in ("C", "H") if s in counts] if "C" in counts else []
        order = first + sorted(k for k in counts if k not in first)
        return "".join(f"{s}{counts[s] if counts[s] > 1 else ''}" for s in order)

    @property
    def positions_bohr(self) -> np.ndarray:
        if self.positions is None:
            raise ValueError("this molecule has no 3D geometry")
        return self.positions * units.ANGSTROM_TO_BOHR

    def with_positions(self, positions: np.ndarray, source: str | None = None) -> "Molecule":
        """A copy with a new geometry (Angstrom)."""
        return replace(self, positions=np.asarray(positions, dtype=np.float64), source=source or self.source, path=None)

    def to_xyz(self, comment: str | None = None) -> str:
        """XYZ text (Angstrom)."""
        if self.positions is None:
            raise ValueError("this molecule has no 3D geometry")
        lines = [str(self.n_atoms), comment if comment is not None else (self.name or self.smiles or "")]
        for s, (x, y, z) in zip(self.symbols, self.positions):
            lines.append(f"{s:<2s} {x:15.10f} {y:15.10f} {z:15.10f}")
        return "\n".join(lines) + "\n"
