"""One calculation through the store: cache hit, or run and record ``done`` / ``failed``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import version

from molmtl import __version__
from molmtl.chem.molecule import Molecule
from molmtl.chem.validate import require_supported
from molmtl.dft.protocol import QM9Protocol
from molmtl.dft.result import CalculationResult
from molmtl.dft.store import ResultStore, canonical_input, input_key
from molmtl.dft.xtb import run_xtb
from molmtl.errors import InputError, MolmtlError

log = logging.getLogger(__name__)

METHODS = ("dft", "xtb")


@dataclass(frozen=True)
class XTBJob:
    """Settings of a GFN2-xTB estimate (the fast tier)."""

    optimize: bool = True
    frequencies: bool = True

    method = "GFN2-xTB"

    def settings(self) -> dict:
        return {"optimize": self.optimize, "frequencies": self.frequencies}

    @staticmethod
    def versions() -> dict[str, str]:
        return {"molmtl": __version__, "tblite": version("tblite")}

    def run(self, molecule: Molecule) -> CalculationResult:
        return run_xtb(molecule, optimize_geometry=self.optimize, frequencies=self.frequencies)


def job_key(molecule: Molecule, job: QM9Protocol | XTBJob) -> tuple[str, dict]:
    """``(key, canonical input)`` of running ``job`` on ``molecule``."""
    canonical = canonical_input(molecule, job.method, job.settings(), job.versions())
    return input_key(canonical), canonical


def calculate(molecule: Molecule, job: QM9Protocol | XTBJob, store: ResultStore | None, *,
              force: bool = False) -> tuple[str, CalculationResult, bool]:
    """Run ``job`` on ``molecule`` unless the store already has it.

    Returns:
        ``(key, result, cached)``.

    Raises:
        MolmtlError: the input is bad or the calculation failed (recorded ``failed`` first).
    """
    if molecule.positions is None:
        raise InputError(f"{molecule.name or molecule.smiles or molecule.formula} has no 3D geometry")
    key, canonical = job_key(molecule, job)
    if store is not None and not force:
        rec = store.get(key)
        if rec is not None and rec.status == "done":
            log.info("cache hit %s (%s)", key, molecule.name or molecule.formula)
            return key, CalculationResult.from_dict(rec.result), True
    if store is not None:
        store.start(key, molecule, canonical)
    try:
        require_supported(molecule, method=job.method)
        result = job.run(molecule)
    except MolmtlError as exc:
        if store is not None:
            store.fail(key, str(exc))
        raise
    except Exception as exc:  # a bug or a library error: still recorded, then re-raised with its traceback
        if store is not None:
            store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    if store is not None:
        store.finish(key, result.to_dict())
    return key, result, False
