"""PySCF's CPU density-fitted Hessian in a Cartesian basis, with and without one metric inverse."""

from __future__ import annotations

import numpy as np
import pytest
from pyscf import gto, scf

from molmtl.dft.df_metric import consistent_metric, translation_residual
from molmtl.dft.protocol import QM9Protocol
from molmtl.units import HARTREE_TO_EV

FORMALDEHYDE = "O 0 0 1.2; C 0 0 0; H 0 0.94 -0.58; H 0 -0.94 -0.54"  # Angstrom, off equilibrium


@pytest.fixture(scope="module")
def hartree_fock_hessians():
    """Hartree-Fock (no grid, so exact translation invariance is expected) in a Cartesian 6-31G*."""
    mol = gto.M(atom=FORMALDEHYDE, basis="6-31g*", cart=True, verbose=0)
    exact = scf.RHF(mol)
    exact.conv_tol = 1e-12
    exact.kernel()
    fitted = scf.RHF(mol).density_fit(auxbasis="def2-universal-jkfit")
    fitted.conv_tol = 1e-12
    fitted.kernel()
    as_shipped = fitted.Hessian().kernel()
    with consistent_metric(mol):
        fixed = fitted.Hessian().kernel()
    return exact.Hessian().kernel(), as_shipped, fixed


def test_one_metric_inverse_makes_the_df_hessian_translation_invariant(hartree_fock_hessians):
    exact, _, fixed = hartree_fock_hessians
    assert translation_residual(exact) < 1e-6
    assert translation_residual(fixed) < 1e-6  # Eh/bohr^2; was 4.7e-3
    assert np.abs(fixed - exact).max() < 2e-3  # the density-fitting error itself
    assert np.abs(fixed - fixed.transpose(1, 0, 3, 2)).max() < 1e-8  # symmetric


def test_pyscf_still_needs_the_fix(hartree_fock_hessians):
    """If this fails, PySCF's DF Hessian no longer mixes two metric inverses: ``consistent_metric`` can go."""
    _, as_shipped, _ = hartree_fock_hessians
    assert translation_residual(as_shipped) > 1e-3


def test_spherical_basis_is_left_alone():
    from pyscf.df.hessian import rhf as df_hessian

    before = df_hessian._gen_metric_solver
    with consistent_metric(gto.M(atom="He", basis="6-31g", verbose=0)):
        assert df_hessian._gen_metric_solver is before
    with consistent_metric(gto.M(atom="He", basis="6-31g", cart=True, verbose=0)):
        assert df_hessian._gen_metric_solver is not before
    assert df_hessian._gen_metric_solver is before  # restored


def test_protocol_df_hessian_in_the_6d_basis_matches_the_exact_one(qm9):
    """``df_derivatives`` at QM9's CH2O geometry in Gaussian's 6D convention: ZPVE within 0.05 meV.

    PySCF's Hessian as shipped gave -0.17 meV here (-4.3 meV for an 18-atom molecule).
    """
    mol = qm9.molecule(qm9.position_of_index(6))
    settings = dict(basis="6-31g*", convention="gaussian", grid=(50, 194), device="cpu", optimize=False,
                    polarizability=False)
    exact = QM9Protocol(**settings).run(mol)
    fitted = QM9Protocol(**settings, df_derivatives=True).run(mol)
    assert fitted.raw["e_elec"] == pytest.approx(exact.raw["e_elec"], abs=1e-9)  # same exact SCF
    assert abs(fitted.raw["zpve"] - exact.raw["zpve"]) * HARTREE_TO_EV * 1000 < 0.05  # meV
    assert np.abs(np.subtract(fitted.frequencies_cm1, exact.frequencies_cm1)).max() < 1.0  # cm^-1


def test_density_fitted_hessians_get_a_new_store_key():
    """Results from before the fix (wrong on the CPU) must not be served from a store."""
    assert "df_hessian" in QM9Protocol(df_derivatives=True).versions()
    assert "df_hessian" in QM9Protocol(density_fit=True).versions()
    assert "df_hessian" not in QM9Protocol().versions()  # exact results keep their keys
    assert "df_hessian" not in QM9Protocol(df_derivatives=True, thermo=False).versions()


def test_nested_blocks_restore_pyscf_once_the_last_ends():
    from pyscf.df.hessian import rhf as df_hessian

    before = df_hessian._gen_metric_solver
    cart = gto.M(atom="He", basis="6-31g", cart=True, verbose=0)
    with consistent_metric(cart):
        patched = df_hessian._gen_metric_solver
        with consistent_metric(cart):
            assert df_hessian._gen_metric_solver is patched
        assert df_hessian._gen_metric_solver is patched  # the outer block still runs
    assert df_hessian._gen_metric_solver is before
