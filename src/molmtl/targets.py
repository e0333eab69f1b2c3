"""The 19 QM9 targets: keys, units, readouts and chemical-accuracy thresholds.

Keys and units follow PyTorch Geometric's ``QM9`` (index 0..18). Energies are stored in eV and
displayed in meV. Chemical-accuracy thresholds are those of Gilmer et al., "Neural Message Passing
for Quantum Chemistry" (ICML 2017), Table 2 (rotational constants have none there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from molmtl import units
from molmtl.errors import InputError

Readout = Literal["sum", "mean", "dipole"]


@dataclass(frozen=True)
class Target:
    """One QM9 property.

    Attributes:
        key: PyG-style key, e.g. ``"U0"``.
        index: position in PyG's 19-column target tensor.
        description: what the number is.
        unit: the unit values are stored and predicted in.
        display_unit: the unit tables show (meV for energies).
        display_scale: factor from ``unit`` to ``display_unit``.
        readout: how atom contributions combine: ``sum`` (extensive), ``mean`` (intensive), or
            ``dipole`` (norm of sum of predicted charges times positions).
        chemical_accuracy: Gilmer et al.'s threshold in ``unit`` (None where none is defined).
    """

    key: str
    index: int
    description: str
    unit: str
    display_unit: str
    display_scale: float
    readout: Readout
    chemical_accuracy: float | None

    @property
    def is_energy(self) -> bool:
        return self.unit == "eV"

    def to_display(self, value):
        """Value in ``unit`` -> value in ``display_unit``."""
        return value * self.display_scale


def _energy(key, index, description, readout: Readout, chem_acc_mev=43.0) -> Target:
    return Target(key, index, description, "eV", "meV", units.EV_TO_MEV, readout, chem_acc_mev / 1000.0)


TARGETS: tuple[Target, ...] = (
    Target("mu", 0, "dipole moment", "D", "D", 1.0, "dipole", 0.1),
    Target("alpha", 1, "isotropic polarizability", "bohr^3", "bohr^3", 1.0, "sum", 0.1),
    _energy("homo", 2, "HOMO energy", "mean"),
    _energy("lumo", 3, "LUMO energy", "mean"),
    _energy("gap", 4, "HOMO-LUMO gap", "mean"),
    Target("r2", 5, "electronic spatial extent <R^2>", "bohr^2", "bohr^2", 1.0, "sum", 1.2),
    _energy("zpve", 6, "zero-point vibrational energy", "sum", chem_acc_mev=1.2),
    _energy("U0", 7, "internal energy at 0 K", "sum"),
    _energy("U", 8, "internal energy at 298.15 K", "sum"),
    _energy("H", 9, "enthalpy at 298.15 K", "sum"),
    _energy("G", 10, "free energy at 298.15 K", "sum"),
    Target("cv", 11, "heat capacity at 298.15 K", "cal/(mol K)", "cal/(mol K)", 1.0, "sum", 0.05),
    _energy("U0_atom", 12, "atomization energy at 0 K", "sum"),
    _energy("U_atom", 13, "atomization energy at 298.15 K", "sum"),
    _energy("H_atom", 14, "atomization enthalpy at 298.15 K", "sum"),
    _energy("G_atom", 15, "atomization free energy at 298.15 K", "sum"),
    Target("A", 16, "rotational constant A", "GHz", "GHz", 1.0, "mean", None),
    Target("B", 17, "rotational constant B", "GHz", "GHz", 1.0, "mean", None),
    Target("C", 18, "rotational constant C", "GHz", "GHz", 1.0, "mean", None),
)

TARGET_KEYS: tuple[str, ...] = tuple(t.key for t in TARGETS)
_BY_KEY = {t.key: t for t in TARGETS}
_BY_LOWER = {t.key.lower(): t for t in TARGETS}

#: The 11 targets of the LibMTL / Nash-MTL QM9 protocol (all but gap, and atomization energies
#: in place of U0, U, H, G), in that benchmark's order.
LIBMTL_TARGETS: tuple[str, ...] = (
    "mu", "alpha", "homo", "lumo", "r2", "zpve", "U0_atom", "U_atom", "H_atom", "G_atom", "cv",
)


def get_target(key: str) -> Target:
    """Target by key (case-insensitive: the 19 keys differ ignoring case)."""
    if key in _BY_KEY:
        return _BY_KEY[key]
    if key.lower() in _BY_LOWER:  # keys are unique ignoring case, so this is unambiguous
        return _BY_LOWER[key.lower()]
    raise KeyError(f"unknown target {key!r}; known targets: {', '.join(TARGET_KEYS)}")


def parse_targets(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Turn ``"all"``, ``"libmtl"``, ``"U0,homo"`` or a list of keys into canonical target keys."""
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return TARGET_KEYS
        if spec.strip().lower() == "libmtl":
            return LIBMTL_TARGETS
        spec = [s for s in spec.replace(" ", ",").split(",") if s]
    keys = tuple(get_target(s).key for s in spec)
    if not keys:
        raise ValueError("no targets given")
    if len(set(keys)) != len(keys):
        raise ValueError(f"targets repeat: {', '.join(keys)}")
    return keys


def resolve_tasks(tasks: Sequence[str | Target]) -> tuple[Target, ...]:
    """Task keys (or Target objects, e.g. a user's custom target) -> targets, in the given order.

    InputError for unknown keys, repeated tasks or none.
    """
    if isinstance(tasks, str) or not tasks:
        raise InputError("tasks must be a non-empty list of target keys, e.g. ['U0', 'homo'].")
    out = []
    for key in tasks:
        if isinstance(key, Target):
            out.append(key)
            continue
        try:
            out.append(get_target(key))
        except KeyError:
            raise InputError(f"unknown task {key!r}; known tasks: {', '.join(TARGET_KEYS)}.") from None
    keys = [t.key for t in out]
    if len(set(keys)) != len(keys):
        raise InputError(f"tasks repeat: {', '.join(keys)}.")
    return tuple(out)


def custom_target(key: str, unit: str = "") -> Target:
    """A user's own target (from a CSV column that is not a QM9 key): mean readout, no threshold."""
    return Target(key, -1, f"user target {key}", unit, unit, 1.0, "mean", None)


def resolve_target(key: str) -> Target:
    """The registry's target for ``key``, else a :func:`custom_target` (a user's CSV column)."""
    try:
        return get_target(key)
    except KeyError:
        return custom_target(key)


def column_header(name: str, unit: str) -> str:
    """``("homo", "meV")`` -> ``"homo [meV]"``; no unit (a user's dimensionless target) -> the name
    alone. The inverse of :func:`parse_column_header`."""
    return f"{name} [{unit}]" if unit else name


def parse_column_header(header: str) -> tuple[str, str | None]:
    """``"homo [meV]"`` -> ``("homo", "meV")``; ``"homo"`` -> ``("homo", None)``."""
    text = header.strip()
    if text.endswith("]") and "[" in text:
        name, unit = text[:-1].split("[", 1)
        return name.strip(), unit.strip()
    return text, None


def column_target(header: str) -> tuple[Target, float]:
    """Target for a CSV column header and the factor from the column's unit to the target's unit.

    Registry keys accept their unit or display unit in brackets (``U0 [eV]``, ``U0 [meV]``);
    any other header becomes a :func:`custom_target`.
    """
    name, unit = parse_column_header(header)
    try:
        target = get_target(name)
    except KeyError:
        return custom_target(name, unit or ""), 1.0
    if unit is None or unit == target.unit:
        return target, 1.0
    if unit == target.display_unit:
        return target, 1.0 / target.display_scale
    raise ValueError(f"column {header!r}: {target.key} is in {target.unit} (or {target.display_unit}), not {unit}")
