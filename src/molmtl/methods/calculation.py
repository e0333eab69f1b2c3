"""The quantum methods' shared step: one calculation through the results store, as a MethodResult."""

from __future__ import annotations

import time

from molmtl.chem.molecule import Molecule
from molmtl.dft.jobs import calculate
from molmtl.dft.store import ResultStore
from molmtl.methods.base import Progress
from molmtl.methods.result import (
    Geometry,
    MethodResult,
    molecule_summary,
    properties_in_registry_units,
)


def stored_calculation(method: str, job, molecule: Molecule, store: ResultStore | None, *, optimized: bool,
                       level_of_theory: str, progress: Progress | None = None, force: bool = False) -> MethodResult:
    """Run ``job`` (a QM9Protocol or XTBJob) on ``molecule`` through ``store`` (the same molecule at
    the same settings is computed once) and give its result in the methods' schema."""
    t0 = time.perf_counter()
    key, calc, cached = calculate(molecule, job, store, force=force, progress=progress)
    props, units = properties_in_registry_units(calc.properties)
    source = f"{level_of_theory} optimized" if optimized else {
        "qm9": "QM9 (B3LYP/6-31G(2df,p))", "smiles": "RDKit ETKDG + MMFF"}.get(molecule.source, f"input ({molecule.source})")
    geometry = Geometry(calc.atomic_numbers, calc.positions_angstrom, source)
    extras = {"raw": calc.raw, "e_elec_hartree": calc.raw.get("e_elec"), "n_imaginary": calc.n_imaginary,
              "frequencies_cm1": calc.frequencies_cm1, "device": calc.device}
    provenance = {"level_of_theory": calc.method, "settings": calc.settings, "versions": job.versions(),
                  "store_key": key, "cached": cached}
    result = MethodResult(method=method, level_of_theory=calc.method, molecule=molecule_summary(molecule),
                          properties=props, units=units, geometry=geometry, timings_s=dict(calc.timings_s),
                          warnings=list(calc.warnings), provenance=provenance, extras=extras)
    result.wall_s = time.perf_counter() - t0
    return result


__all__ = ["stored_calculation"]
