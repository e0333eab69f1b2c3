"""Dipole, R^2, rotational constants and polarizability."""

from __future__ import annotations

import numpy as np
from pyscf import dft

from molmtl.dft import properties as P
from molmtl.dft.basis import ao_map, build_mole
from molmtl.dft.projected import ProjectedRKS, cartesian_shadow


def test_rotational_constants_of_qm9_methane_to_five_digits(qm9_small):
    mol, raw, _ = qm9_small[1]
    abc = P.qm9_rotational_constants_ghz(mol.atomic_numbers, mol.positions_bohr)
    np.testing.assert_allclose(abc, [raw["A"], raw["B"], raw["C"]], rtol=5e-6)


def test_linear_molecule_has_a_zero_as_qm9_stores_it(qm9_small):
    mol, raw, _ = qm9_small[5]  # HCN
    abc = P.qm9_rotational_constants_ghz(mol.atomic_numbers, mol.positions_bohr)
    assert abc[0] == 0.0 and raw["A"] == 0.0
    np.testing.assert_allclose(abc[1:], [raw["B"], raw["C"]], rtol=5e-6)


def _scf(mol, t=None, conv=1e-11):
    mf = ProjectedRKS(mol, t) if t is not None else dft.RKS(mol, xc="b3lypg")
    mf.conv_tol = conv
    mf.grids.atom_grid = (50, 194)
    mf.kernel()
    return mf


def test_dipole_and_r2_are_translation_invariant(water):
    z, r = water.atomic_numbers, water.positions_bohr
    out = []
    for shift in (0.0, 3.0):
        mol = build_mole(z, r + shift, basis="sto-3g", convention="spherical")
        mf = _scf(mol)
        dm = mf.make_rdm1()
        out.append((P.dipole_moment_debye(mol, dm), P.spatial_extent_bohr2(mol, dm)))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-7)
    assert 1.3 < out[0][0] < 2.0  # B3LYP/STO-3G water: about 1.6 D


def test_cpks_polarizability_matches_finite_field(water):
    mol = build_mole(water.atomic_numbers, water.positions_bohr, basis="6-31g", convention="spherical")
    mf = _scf(mol)
    cpks = P.polarizability_tensor_au(mf)
    ff = P.finite_field_polarizability_au(lambda m: _make(m), mol, field_au=1e-3, axes=(1,))
    np.testing.assert_allclose(cpks[:, 1], ff[:, 1], atol=2e-3)
    assert np.allclose(cpks, cpks.T)


def _make(mol):
    mf = dft.RKS(mol, xc="b3lypg")
    mf.grids.atom_grid = (50, 194)
    return mf


def test_polarizability_through_the_shadow_equals_the_plain_basis(water, df_basis):
    """Response via the (non-square) shadow orbitals: projected-to-spherical == spherical."""
    z, r = water.atomic_numbers, water.positions_bohr
    a_sph = P.polarizability_tensor_au(_scf(build_mole(z, r, basis=df_basis, convention="spherical")))
    mol_c = build_mole(z, r, basis=df_basis, convention="cartesian")
    a_proj = P.polarizability_tensor_au(cartesian_shadow(_scf(mol_c, ao_map(mol_c, cartesian_l=(0, 1)))))
    np.testing.assert_allclose(a_proj, a_sph, atol=1e-5)
