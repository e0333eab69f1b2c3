"""One calculation through the store: cache hit, or run and record ``done`` / ``failed``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np

from molmtl import __version__
from molmtl.chem.geometry import check_geometry, require_one_fragment
from molmtl.chem.molecule import Molecule
from molmtl.dft.protocol import QM9Protocol
from molmtl.dft.result import CalculationResult
from molmtl.dft.store import ResultStore, canonical_input, input_key
from molmtl.dft.xtb import XTB_MAX_ATOMS, require_xtb_domain, run_xtb
from molmtl.errors import CalculationError, InputError, MolmtlError

log = logging.getLogger(__name__)

METHODS = ("dft", "xtb")
#: Exceptions a calculation's numerics raise on a molecule they cannot handle: reported as
#: "calculation failed: ..." (exit code 1), never as a traceback (``--verbose`` logs it).
NUMERICAL_FAILURES = (np.linalg.LinAlgError, ArithmeticError, RuntimeError)


@dataclass(frozen=True)
class XTBJob:
    """Settings of a GFN2-xTB estimate (the fast tier)."""

    optimize: bool = True
    frequencies: bool = True

    method = "GFN2-xTB"
    max_atoms = XTB_MAX_ATOMS

    def settings(self) -> dict:
        return {"optimize": self.optimize, "frequencies": self.frequencies}

    @staticmethod
    def versions() -> dict[str, str]:
        return {"molmtl": __version__, "tblite": version("tblite")}

    @staticmethod
    def check(molecule: Molecule) -> None:
        """UnsupportedMoleculeError for what GFN2-xTB has no parameters for."""
        require_xtb_domain(molecule)

    def run(self, molecule: Molecule, progress=None) -> CalculationResult:
        return run_xtb(molecule, optimize_geometry=self.optimize, frequencies=self.frequencies, progress=progress)


def job_key(molecule: Molecule, job: QM9Protocol | XTBJob) -> tuple[str, dict]:
    """``(key, canonical input)`` of running ``job`` on ``molecule``."""
    canonical = canonical_input(molecule, job.method, job.settings(), job.versions())
    return input_key(canonical), canonical


def calculate(molecule: Molecule, job: QM9Protocol | XTBJob, store: ResultStore | None, *,
              force: bool = False, progress=None) -> tuple[str, CalculationResult, bool]:
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
        job.check(molecule)  # elements, charge, spin: the method's own domain (a failure is a row too)
        check_geometry(molecule, max_atoms=job.max_atoms, method=job.method)
        require_one_fragment(molecule, job.method)
        result = job.run(molecule, progress=progress)
    except MolmtlError as exc:
        if store is not None:
            store.fail(key, str(exc))
        raise
    except NUMERICAL_FAILURES as exc:  # the libraries' numerics on this molecule (no SCF solution, a singular matrix)
        log.debug("%s on %s", job.method, molecule.name or molecule.formula, exc_info=True)
        first = (str(exc).strip().splitlines() or [""])[0]
        reason = f"{job.method}: {type(exc).__name__}" + (f": {first}" if first else "")
        if store is not None:
            store.fail(key, reason)
        raise CalculationError(reason) from None
    except Exception as exc:  # a bug: still recorded, then re-raised with its traceback
        if store is not None:
            store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    if store is not None:
        store.finish(key, result.to_dict())
    return key, result, False
