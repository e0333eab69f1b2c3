"""Geometry optimization with geomeTRIC for any energy/gradient function."""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
from pyscf import gto

from molmtl.errors import CalculationError

log = logging.getLogger(__name__)

#: Gaussian's default optimization criteria (max/RMS force, max/RMS displacement), as geomeTRIC names them.
GAUSSIAN_CONVERGENCE = "GAU"


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
    try:
        converged, mol_eq = geometric_solver.kernel(method, maxsteps=max_steps, convergence_set=convergence)
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
