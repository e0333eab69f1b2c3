"""What one DFT (or xTB) calculation returns: properties with units, timings, provenance."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from molmtl import units
from molmtl.targets import TARGET_KEYS, get_target

#: QM9's raw labels (as its files print them): energies in Hartree, the rest as the registry.
RAW_UNITS = {
    "A": "GHz", "B": "GHz", "C": "GHz", "mu": "D", "alpha": "bohr^3", "homo": "Hartree", "lumo": "Hartree",
    "gap": "Hartree", "r2": "bohr^2", "zpve": "Hartree", "U0": "Hartree", "U": "Hartree", "H": "Hartree",
    "G": "Hartree", "cv": "cal/(mol K)", "e_elec": "Hartree",
}
_ENERGY_RAW = {"homo", "lumo", "gap", "zpve", "U0", "U", "H", "G"}


def raw_to_registry(raw: dict[str, float], atomic_numbers) -> dict[str, float]:
    """Raw (Hartree) values -> the registry's keys and units (eV), atomization energies included.

    Keys absent from ``raw`` (e.g. no thermochemistry) are absent from the result, and so are the
    atomization energies of molecules with elements QM9 has no free-atom reference for.
    """
    out: dict[str, float] = {}
    for key in TARGET_KEYS:
        if key in raw:
            out[key] = units.hartree_to_ev(raw[key]) if key in _ENERGY_RAW else float(raw[key])
    has_references = all(int(z) in units.ATOM_REFERENCE_HARTREE for z in atomic_numbers)  # QM9's five elements
    for q in ("U0", "U", "H", "G"):
        if q in raw and has_references:
            out[f"{q}_atom"] = units.hartree_to_ev(raw[q] - units.atom_reference_hartree(atomic_numbers, q))
    return {k: out[k] for k in TARGET_KEYS if k in out}


@dataclass
class CalculationResult:
    """One calculation's outputs.

    Attributes:
        method: level of theory, e.g. ``B3LYP/6-31G(2df,p) [Gaussian 6D/7F]`` or ``GFN2-xTB``.
        raw: QM9-style raw values (see :data:`RAW_UNITS`), plus ``e_elec`` (Hartree).
        properties: registry keys -> values in the registry's units (eV, D, bohr^3, ...).
        timings_s: seconds per stage (``scf``, ``optimization``, ``hessian``, ``properties``, ...).
        atomic_numbers: ``(n,)``.
        positions_angstrom: final geometry ``(n, 3)`` (Angstrom).
        frequencies_cm1: real harmonic frequencies (cm^-1), if computed.
        n_imaginary: imaginary frequencies found (excluded from thermochemistry).
        settings: the protocol's settings.
        warnings: sentences for the user.
    """

    method: str
    raw: dict[str, float]
    properties: dict[str, float]
    timings_s: dict[str, float]
    atomic_numbers: list[int]
    positions_angstrom: list[list[float]]
    frequencies_cm1: list[float] | None = None
    n_imaginary: int = 0
    settings: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    device: str = "cpu"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CalculationResult":
        return cls(**d)

    def property_units(self) -> dict[str, str]:
        return {k: get_target(k).unit for k in self.properties}

    def table(self) -> str:
        """Plain-text table: registry values with units, then timings."""
        lines = [f"method: {self.method}  (device: {self.device})", f"{'property':<10s} {'value':>16s}  unit"]
        for key, value in self.properties.items():
            t = get_target(key)
            lines.append(f"{key:<10s} {t.to_display(value):>16.6f}  {t.display_unit}")
        if "e_elec" in self.raw:
            lines.append(f"{'E_elec':<10s} {self.raw['e_elec']:>16.8f}  Hartree")
        if self.n_imaginary:
            lines.append(f"imaginary frequencies: {self.n_imaginary} (excluded from thermochemistry)")
        lines.append("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.timings_s.items()))
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def as_float_list(a) -> list:
    return np.asarray(a, dtype=float).tolist()
