"""The Gaussian 6D/7F basis and the projected SCF."""

from __future__ import annotations

import numpy as np
import pytest
from pyscf import dft

from molmtl.dft.basis import QM9_BASIS, ao_map, build_mole, gaussian_631g_2df_p
from molmtl.dft.projected import ProjectedRKS, cartesian_shadow


def test_gaussian_2d_exponents_are_twice_and_half_631gs():
    basis = gaussian_631g_2df_p(["C", "H", "O"])
    d = [sh[1][0] for sh in basis["C"] if sh[0] == 2]
    f = [sh[1][0] for sh in basis["O"] if sh[0] == 3]
    assert d == [1.6, 0.4]
    assert f == [1.4]  # the f exponent is the Basis Set Exchange one
    assert [sh[0] for sh in basis["H"]] == [0, 0, 1]


def test_ao_map_drops_three_functions_per_f_shell(water):
    mol = build_mole(water.atomic_numbers, water.positions_bohr)  # QM9 basis: one f shell on O
    t = ao_map(mol)
    assert mol.cart and t.shape == (mol.nao_nr(), mol.nao_nr() - 3)
    # s, p and d columns are unit vectors; the map has full column rank
    assert np.linalg.matrix_rank(t) == t.shape[1]


def _energy(mol, t):
    mf = ProjectedRKS(mol, t, xc="b3lypg") if t is not None else dft.RKS(mol, xc="b3lypg")
    mf.conv_tol = 1e-11
    mf.grids.atom_grid = (50, 194)
    return mf.kernel(), mf


def test_projection_onto_spherical_space_reproduces_spherical_scf(water, df_basis):
    """T = cart->sph on every shell of l >= 2 must give PySCF's own spherical-basis energy."""
    z, r = water.atomic_numbers, water.positions_bohr
    e_sph, _ = _energy(build_mole(z, r, basis=df_basis, convention="spherical"), None)
    mol_c = build_mole(z, r, basis=df_basis, convention="cartesian")
    e_proj, _ = _energy(mol_c, ao_map(mol_c, cartesian_l=(0, 1)))
    assert abs(e_proj - e_sph) < 1e-8
    e_6d7f, _ = _energy(mol_c, ao_map(mol_c))
    e_cart, _ = _energy(mol_c, None)
    assert e_cart < e_6d7f < e_sph  # nested spaces: 5D/7F inside 6D/7F inside 6D/10F


def test_qm9_methane_energy_and_zero_dipole(qm9_small):
    """QM9 id 1 at its geometry: E_el equals QM9's U0 - ZPVE within 0.01 mHa, and the dipole stays 0."""
    from molmtl.dft.properties import dipole_moment_debye

    mol, raw, _ = qm9_small[1]
    m = build_mole(mol.atomic_numbers, mol.positions_bohr, basis=QM9_BASIS)
    mf = ProjectedRKS(m, ao_map(m))
    mf.grids.atom_grid = (75, 302)
    mf.conv_tol = 1e-10
    e = mf.kernel()
    assert abs(e - (raw["U0"] - raw["zpve"])) < 1e-5
    assert dipole_moment_debye(m, mf.cart_rdm1()) < 1e-3
    nocc = m.nelectron // 2
    assert abs(mf.mo_energy[nocc - 1] - raw["homo"]) < 1.5e-3 / 27.211386  # 1.5 meV (QM9 prints 4 decimals)


def test_shadow_gradient_matches_finite_difference(water, df_basis):
    """Nuclear gradient in the 6D/7F basis via the Cartesian shadow vs a central difference."""
    z, r = water.atomic_numbers, water.positions_bohr.copy()

    def energy(pos):
        m = build_mole(z, pos, basis=df_basis)
        e, mf = _energy(m, ao_map(m))
        return e, mf

    _, mf = energy(r)
    grad = cartesian_shadow(mf).nuc_grad_method().kernel()
    h = 1e-3
    rp, rm = r.copy(), r.copy()
    rp[1, 2] += h
    rm[1, 2] -= h
    fd = (energy(rp)[0] - energy(rm)[0]) / (2 * h)
    assert abs(grad[1, 2] - fd) < 2e-5


def test_projection_wraps_a_density_fitted_potential(water, df_basis):
    """GPU4PySCF's density-fitted SCF defines ``get_veff`` itself; ``project`` must still see every
    potential build (Cartesian densities in, reduced matrices out). Mimicked here on the CPU."""
    from pyscf import lib

    from molmtl.dft.projected import project

    class OwnVeff:  # as GPU4PySCF's _DFHF: a get_veff of its own, on Cartesian AOs only
        def get_veff(self, mol=None, dm=None, *args, **kwargs):
            assert dm is None or dm.shape[-1] == self.mol.nao_nr()
            return super().get_veff(mol, dm, *args, **kwargs)

    mol = build_mole(water.atomic_numbers, water.positions_bohr, basis=df_basis, convention="cartesian")
    t = ao_map(mol)

    def fitted(own_veff: bool):
        mf = dft.RKS(mol, xc="b3lypg")
        mf.grids.atom_grid, mf.conv_tol = (50, 194), 1e-11
        mf = mf.density_fit(auxbasis="def2-universal-jkfit")
        if own_veff:
            mf = lib.set_class(mf, (OwnVeff, mf.__class__))
        return project(mf, t)

    e_ref = fitted(False).kernel()
    mf = fitted(True)
    assert mf.kernel() == pytest.approx(e_ref, abs=1e-9) and mf.mo_coeff.shape[0] == t.shape[1]
    e_exact, _ = _energy(mol, t)
    assert 1e-7 < abs(e_ref - e_exact) < 1e-3  # density fitting: close to, not equal to, exact
