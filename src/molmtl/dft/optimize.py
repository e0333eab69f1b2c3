"""Geometry optimization with geomeTRIC for any energy/gradient function."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
from pyscf import gto

from molmtl.errors import CalculationError

log = logging.getLogger(__name__)

#: Gaussian's default optimization criteria (max/RMS force, max/RMS displacement), as geomeTRIC names them.
GAUSSIAN_CONVERGENCE = "GAU"
#: geomeTRIC's logging configuration while it runs here (its own prints the banner to stderr).
LOG_INI = Path(__file__).with_name("geometric_log.ini")
#: The root handlers from before geomeTRIC's run, which :class:`GeometricLog` writes to.
_OUTER_HANDLERS: list[logging.Handler] = []
_OUTER_LEVEL = [logging.WARNING]


class GeometricLog(logging.Handler):
    """Where geomeTRIC's lines go while it runs: to molmtl's own handlers at DEBUG level, one line
    per record, and only when molmtl logs at DEBUG (``molmtl --verbose``)."""

    def emit(self, record: logging.LogRecord) -> None:
        if _OUTER_LEVEL[0] > logging.DEBUG:
            return
        text = record.getMessage().rstrip("\n")
        if not text.strip():
            return
        line = logging.LogRecord("geometric", logging.DEBUG, record.pathname, record.lineno, text, None, None)
        for handler in _OUTER_HANDLERS:
            if line.levelno >= handler.level:
                handler.handle(line)


def optimize_geometry(mol: gto.Mole, energy_gradient: Callable[[gto.Mole], tuple[float, np.ndarray]], *,
                      max_steps: int = 100, convergence: str = GAUSSIAN_CONVERGENCE) -> tuple[np.ndarray, int]:
    """Minimize ``energy_gradient`` from ``mol``'s geometry with geomeTRIC (internal coordinates).

    Args:
        mol: start geometry (its basis is only carried along).
        energy_gradient: ``f(mol) -> (energy Hartree, gradient (n, 3) Hartree/bohr)``.
        max_steps: optimization cycles allowed.
        convergence: geomeTRIC convergence set; ``GAU`` is Gaussian's default.

    Returns:
        ``(positions (n, 3) bohr, steps taken)``.

    Raises:
        CalculationError: no convergence within ``max_steps``.
    """
    from pyscf.geomopt import (  # lazy: imports geomeTRIC; single points skip it
        as_pyscf_method,
        geometric_solver,
    )

    steps = []

    def fn(m):
        steps.append(1)
        return energy_gradient(m)

    method = as_pyscf_method(mol, fn)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    _OUTER_HANDLERS[:], _OUTER_LEVEL[0] = handlers, level
    try:
        converged, mol_eq = geometric_solver.kernel(method, maxsteps=max_steps, convergence_set=convergence,
                                                    logIni=str(LOG_INI))
    finally:  # geomeTRIC's fileConfig replaces the root handlers (no newline, no format): put ours back
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)
    if not converged:
        raise CalculationError(f"geometry optimization did not converge in {max_steps} steps")
    log.info("geometry optimization converged in %d gradient evaluations", len(steps))
    return mol_eq.atom_coords(unit="Bohr"), len(steps)
