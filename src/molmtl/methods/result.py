"""What every method returns: :class:`MethodResult`, one schema for the CLI's ``--json``, the web
API and the stores (``docs/result-schema.md``).

Values are in the target registry's units (energies in eV, dipoles in D, ...; ``units`` says so
per property); :func:`in_energy_unit` gives the same result with energies in meV, eV or Hartree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from molmtl import __version__, units
from molmtl.chem.molecule import Molecule
from molmtl.errors import InputError
from molmtl.targets import TARGET_KEYS, get_target

#: Bumped when a key changes meaning or goes; new keys do not bump it.
SCHEMA = "molmtl.result"
SCHEMA_VERSION = 1

#: Energy units an output can be in (one per output): factor from eV.
ENERGY_UNITS = {"meV": units.EV_TO_MEV, "eV": 1.0, "Hartree": 1.0 / units.HARTREE_TO_EV}


@dataclass
class Geometry:
    """The geometry a method used.

    Attributes:
        atomic_numbers: ``(n,)``.
        positions_angstrom: ``(n, 3)`` Angstrom.
        source: where it came from, in words: ``QM9 (B3LYP/6-31G(2df,p))``, ``RDKit ETKDG + MMFF``,
            ``GFN2-xTB optimized``, ``B3LYP/6-31G(2df,p) optimized``, ``input file``.
    """

    atomic_numbers: list[int]
    positions_angstrom: list[list[float]]
    source: str

    @classmethod
    def of(cls, molecule: Molecule, source: str) -> "Geometry":
        pos = [] if molecule.positions is None else [[float(c) for c in row] for row in molecule.positions]
        return cls([int(z) for z in molecule.atomic_numbers], pos, source)


@dataclass
class MethodResult:
    """One method's properties for one molecule, with units, uncertainty, geometry, timings and provenance.

    Attributes:
        method: the method's registry name (``ml``, ``xtb``, ``dft``, ``qm9``).
        level_of_theory: what the numbers are, e.g. ``GFN2-xTB`` or ``B3LYP/6-31G(2df,p) [Gaussian, 6D/7F]``.
        molecule: name, SMILES, formula, atom count, charge, multiplicity of the input.
        properties: registry key -> value in ``units[key]`` (None where the method gave none).
        units: registry key -> unit.
        uncertainty: registry key -> one standard deviation in ``units[key]``, or None where the
            method has no error bar.
        geometry: the geometry the method used.
        timings_s: seconds per stage (``parse``, ``embed``, ``model``, ``optimization``, ``scf``, ``hessian``...).
        wall_s: the whole call's wall time (seconds).
        warnings: sentences for the user.
        provenance: molmtl's version and the method's: model file and its SHA-256, functional and
            basis, code versions, the store key and whether the result came from the store.
        extras: method-specific values (``frequencies_cm1``, ``n_imaginary``, ``raw`` QM9-style
            values in Hartree, ``e_elec_hartree``; ``not_comparable``: properties whose values
            cannot be set against QM9's level, such as xTB's total energies).
        qm9: QM9's entry when the molecule is in QM9: ``index``, ``split_part`` (of the model's
            split, ML only), ``match`` (how it was found), ``same_conformer``, ``rmsd_angstrom``,
            ``labels`` (registry key -> QM9's value, same units), or None.
        derived: registry key -> how the value was computed rather than predicted (ML: rotational
            constants from the geometry, energies from exact relations; :mod:`molmtl.physics`).
        domain: ML only: ``verdict`` (``in``, ``near`` or ``outside`` the model's training domain),
            ``reasons`` (sentences) and ``suggestion`` (a command to check with, or None).
    """

    method: str
    level_of_theory: str
    molecule: dict[str, Any]
    properties: dict[str, float | None]
    units: dict[str, str]
    uncertainty: dict[str, float | None] = field(default_factory=dict)
    geometry: Geometry | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    qm9: dict[str, Any] | None = None
    derived: dict[str, str] = field(default_factory=dict)
    domain: dict[str, Any] | None = None

    def __post_init__(self):
        self.provenance = {"molmtl_version": __version__, **self.provenance}
        for key in self.properties:
            self.uncertainty.setdefault(key, None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (strict: NaN and infinities become null)."""
        body = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **asdict(self)}
        return _finite(body)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "MethodResult":
        body = dict(body)
        if body.pop("schema", SCHEMA) != SCHEMA or body.pop("schema_version", 1) > SCHEMA_VERSION:
            raise InputError("not a molmtl method result of a version this molmtl reads")
        geometry = body.pop("geometry", None)
        known = {f for f in cls.__dataclass_fields__}
        result = cls(**{k: v for k, v in body.items() if k in known})
        result.geometry = Geometry(**geometry) if geometry else None
        return result


def molecule_summary(molecule: Molecule) -> dict[str, Any]:
    """The ``molecule`` block of a result."""
    return {"name": molecule.name, "smiles": molecule.smiles, "formula": molecule.formula, "n_atoms": molecule.n_atoms,
            "charge": molecule.charge, "multiplicity": molecule.multiplicity, "input": molecule.source}


def properties_in_registry_units(values: dict[str, float]) -> tuple[dict[str, float | None], dict[str, str]]:
    """``(properties, units)`` in the registry's order and units for registry keys present in ``values``."""
    props = {k: _finite(float(values[k])) for k in TARGET_KEYS if k in values}
    return props, {k: get_target(k).unit for k in props}


def in_energy_unit(result: MethodResult, unit: str) -> MethodResult:
    """``result`` with every energy (properties, uncertainties, QM9 labels) in ``unit`` (meV, eV, Hartree)."""
    if unit not in ENERGY_UNITS:
        raise InputError(f"energy unit {unit!r} is not one of {', '.join(ENERGY_UNITS)}")
    factor = {k: ENERGY_UNITS[unit] / ENERGY_UNITS[u] for k, u in result.units.items() if u in ENERGY_UNITS}

    def scale(d: dict | None) -> dict | None:
        if d is None:
            return None
        return {k: (None if v is None else v * factor[k]) if k in factor else v for k, v in d.items()}

    qm9 = None if result.qm9 is None else {**result.qm9, "labels": scale(result.qm9.get("labels"))}
    return replace(result, properties=scale(result.properties), uncertainty=scale(result.uncertainty),
                   units={k: unit if k in factor else u for k, u in result.units.items()}, qm9=qm9)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


__all__ = ["MethodResult", "Geometry", "SCHEMA", "SCHEMA_VERSION", "ENERGY_UNITS", "molecule_summary",
           "properties_in_registry_units", "in_energy_unit"]
