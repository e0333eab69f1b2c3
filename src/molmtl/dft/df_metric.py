"""One inverse Coulomb metric for PySCF's CPU density-fitted Hessian with a Cartesian auxiliary basis.

PySCF makes the auxiliary basis Cartesian when the orbital basis is (``make_auxmol`` copies
``mol.cart``), and our 6D/7F basis lives in a Cartesian ``mol``. A Cartesian def2-universal-jkfit
is nearly linearly dependent: the :math:`r^2` part of each Cartesian d, f and g shell repeats
lower shells. For CH2O in 6-31G* the metric :math:`(P|Q)` then has eigenvalues down to
2e-11, four below PySCF's threshold of 1e-7.

PySCF 2.14's ``df.hessian.rhf`` inverts that metric two ways: by Cholesky (``_gen_metric_solver``,
used by most terms) and by an eigen-decomposition that drops eigenvalues below 1e-7 (``_pinv``,
used by the second-order auxiliary-basis response, ``auxbasis_response=2``, the default since
PySCF 2.13). With a well-conditioned (spherical) metric the two agree; with the Cartesian one they
do not, and the atom-diagonal blocks of the Hessian come out wrong: the Hessian stops being
translation invariant (``max|H t|`` 8e-3 Eh/bohr^2 for CH2O against 3e-4 for the exact-integral
Hessian) and the frequencies too low. For an 18-atom QM9 molecule that lowered ZPVE by 4.3 meV.

:func:`consistent_metric` makes every term use the eigen-decomposed inverse, as GPU4PySCF does for
Cartesian auxiliary bases. Then the density-fitted Hessian is translation invariant to 1e-7 and
matches a finite difference of the density-fitted gradient to 1e-5 (``tests/dft/test_df_metric.py``).
"""

from __future__ import annotations

import contextlib
import logging
import threading

import numpy as np

log = logging.getLogger(__name__)

DF_HESSIAN_REVISION = "eigen-metric-1"
"""Part of the store key of every density-fitted Hessian (see ``QM9Protocol.versions``)."""


def translation_residual(hess) -> float:
    """:math:`\\max_A |\\sum_B H_{AB}|` (Eh/bohr^2) of a Hessian in PySCF's ``(natm, natm, 3, 3)`` layout.

    Zero for the Hessian of a translation-invariant energy; a DFT Hessian without grid response
    keeps a small residual (3e-4 for CH2O at 6-31G*), a faulty one a larger one.
    """
    return float(np.abs(np.asarray(hess).sum(axis=1)).max())


_lock = threading.Lock()
_active = {"depth": 0, "original": None}  # nested or concurrent blocks (threaded Dask workers) share one patch


@contextlib.contextmanager
def consistent_metric(mol):
    """Within the block, PySCF's CPU DF Hessian inverts the metric by eigen-decomposition only.

    Does nothing for a spherical ``mol`` (its auxiliary basis is well conditioned). Blocks may
    nest or run in several threads at once; PySCF's own solver is back when the last one ends.
    """
    if not mol.cart:
        yield
        return
    from pyscf.df.hessian import (
        rhf as df_hessian,  # lazy: only density-fitted Hessians need it
    )

    if not (hasattr(df_hessian, "_gen_metric_solver") and hasattr(df_hessian, "_pinv")):
        log.warning("pyscf.df.hessian.rhf has no _gen_metric_solver/_pinv: density-fitted Hessian left as PySCF has it")
        yield
        return
    with _lock:
        if _active["depth"] == 0:
            original = _active["original"] = df_hessian._gen_metric_solver

            def eigen_solver(int2c, decompose_j2c="CD", lindep=df_hessian.LINEAR_DEP_THRESHOLD):
                return original(int2c, decompose_j2c="ED", lindep=lindep)  # the threshold _pinv uses

            df_hessian._gen_metric_solver = eigen_solver
        _active["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _active["depth"] -= 1
            if _active["depth"] == 0:
                df_hessian._gen_metric_solver = _active["original"]
