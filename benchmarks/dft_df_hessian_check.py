"""PySCF's CPU density-fitted Hessian against a finite difference of its gradient, Cartesian basis.

Hartree-Fock (no integration grid, so an exact Hessian is translation invariant) for CH2O in
6-31G*, density-fitted with def2-universal-jkfit. For each variant of the analytic DF Hessian it
prints the translation residual max|H t| and the largest gap to a central difference of the
analytic DF gradient; then the translation residual of the one-electron, J and K parts of the
partial Hessian (``_partial_hess_ejk``) in a Cartesian and a spherical basis.

Usage: OMP_NUM_THREADS=2 python benchmarks/dft_df_hessian_check.py [--basis 6-31g*] [--step 2e-3]
(about 30 s on 2 cores). This produced the table in BENCHMARKS.md ("Density-fitted derivatives,
CPU") that located the fault fixed by ``molmtl.dft.df_metric``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging

import numpy as np
import scipy.linalg
from pyscf import gto, scf
from pyscf.df.addons import make_auxmol
from pyscf.df.hessian import rhf as df_hessian

from molmtl.dft.df_metric import consistent_metric, translation_residual

log = logging.getLogger("dft_df_hessian_check")
FORMALDEHYDE = "O 0 0 1.2; C 0 0 0; H 0 0.94 -0.58; H 0 -0.94 -0.54"  # Angstrom, off equilibrium
AUXBASIS = "def2-universal-jkfit"


def fitted_scf(mol):
    mf = scf.RHF(mol).density_fit(auxbasis=AUXBASIS)
    mf.conv_tol, mf.conv_tol_grad, mf.verbose = 1e-13, 1e-10, 0
    return mf


def finite_difference_hessian(mol, step: float) -> np.ndarray:
    """Central difference of the analytic DF gradient (step in bohr), symmetrized, in PySCF's layout."""
    ref = fitted_scf(mol)
    ref.kernel()
    dm, x0, n = ref.make_rdm1(), mol.atom_coords(), mol.natm
    h = np.zeros((3 * n, 3 * n))
    for a in range(n):
        for k in range(3):
            grads = []
            for sign in (1, -1):
                x = x0.copy()
                x[a, k] += sign * step
                mf = fitted_scf(mol.set_geom_(x, unit="Bohr", inplace=False))
                mf.kernel(dm0=dm)
                grads.append(mf.nuc_grad_method().kernel().ravel())
            h[3 * a + k] = (grads[0] - grads[1]) / (2 * step)
    return (0.5 * (h + h.T)).reshape(n, 3, n, 3).transpose(0, 2, 1, 3)


@contextlib.contextmanager
def cholesky_pinv():
    """``_pinv`` replaced by the Cholesky inverse the other terms use (a fix that does not work)."""
    original = df_hessian._pinv
    df_hessian._pinv = lambda a, lindep=None: scipy.linalg.cho_solve(scipy.linalg.cho_factor(a, lower=True),
                                                                     np.eye(a.shape[0]))
    try:
        yield
    finally:
        df_hessian._pinv = original


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--basis", default="6-31g*")
    ap.add_argument("--step", type=float, default=2e-3, help="finite-difference step, bohr")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    mol = gto.M(atom=FORMALDEHYDE, basis=args.basis, cart=True, verbose=0)
    aux = make_auxmol(mol, AUXBASIS)
    eig = np.linalg.eigvalsh(aux.intor("int2c2e"))
    log.info("Cartesian auxiliary metric: %d functions, smallest eigenvalues %s", len(eig),
             ", ".join(f"{w:.1e}" for w in eig[:4]))

    exact = scf.RHF(mol)
    exact.conv_tol, exact.verbose = 1e-12, 0
    exact.kernel()
    log.info("exact-integral Hessian: max|H t| %.1e Eh/bohr^2", translation_residual(exact.Hessian().kernel()))

    h_fd = finite_difference_hessian(mol, args.step)
    log.info("finite difference of the DF gradient (step %.0e bohr): max|H t| %.1e", args.step, translation_residual(h_fd))

    mf = fitted_scf(mol)
    mf.kernel()
    variants = {
        "PySCF, auxbasis_response=1": (1, contextlib.nullcontext()),
        "PySCF, auxbasis_response=2 (default)": (2, contextlib.nullcontext()),
        "auxbasis_response=2, _pinv -> Cholesky inverse": (2, cholesky_pinv()),
        "auxbasis_response=2, eigen-decomposed metric everywhere (molmtl's fix)": (2, consistent_metric(mol)),
    }
    print("| DF Hessian | max |H t| (Eh/bohr^2) | max |H - H_fd| | worst atom block |")
    print("|---|---|---|---|")
    labels = [mol.atom_symbol(i) for i in range(mol.natm)]
    for name, (level, ctx) in variants.items():
        hess = mf.Hessian()
        hess.auxbasis_response = level
        with ctx:
            h = hess.kernel()
        gap = np.abs(h - h_fd).max(axis=(2, 3))
        i, j = np.unravel_index(gap.argmax(), gap.shape)
        print(f"| {name} | {translation_residual(h):.1e} | {gap.max():.1e} | {labels[i]}-{labels[j]} |")

    print("\nTranslation residual of the partial Hessian's parts, auxbasis_response=2, PySCF as shipped:")
    for cart in (True, False):
        m = gto.M(atom=FORMALDEHYDE, basis=args.basis, cart=cart, verbose=0)
        f = fitted_scf(m)
        f.kernel()
        parts = df_hessian._partial_hess_ejk(f.Hessian(), with_k=True)
        res = {name: translation_residual(p) for name, p in zip(("one-electron", "J", "K"), parts)}
        print(f"  {'Cartesian' if cart else 'spherical'}: " + ", ".join(f"{k} {v:.1e}" for k, v in res.items()))


if __name__ == "__main__":
    main()
