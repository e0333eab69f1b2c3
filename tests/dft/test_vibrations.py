"""One step from a Hessian to frequencies and thermochemistry, for DFT and xTB alike."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.chem.molecule import Molecule
from molmtl.dft import xtb
from molmtl.dft.protocol import QM9Protocol
from molmtl.dft.vibrations import (
    harmonic_frequencies,
    symmetry_number,
    thermochemistry_from_hessian,
)
from molmtl.units import HARTREE_TO_WAVENUMBER

SMALL = dict(basis="sto-3g", convention="spherical", grid=(40, 110), device="cpu", polarizability=False, optimize=False)


@pytest.fixture(scope="module")
def water_hessian():
    """Water near its minimum and its GFN2-xTB finite-difference Hessian."""
    water = Molecule(np.array([8, 1, 1]), np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]]),
                     name="water", smiles="O", source="xyz")
    return water, xtb.hessian_fd(water.atomic_numbers, water.positions_bohr)


def test_dft_and_xtb_give_the_same_frequencies_and_thermochemistry_for_the_same_hessian(water_hessian, monkeypatch):
    """The DFT protocol and xTB both take a Hessian through dft.vibrations: handed the same Hessian
    at the same geometry, they report the same frequencies and the same thermal corrections."""
    water, hess = water_hessian
    monkeypatch.setattr(QM9Protocol, "_hessian", lambda self, mf: hess)
    monkeypatch.setattr(xtb, "hessian_fd", lambda z, pos, **kw: hess)
    dft = QM9Protocol(**SMALL, thermo=True).run(water)
    fast = xtb.run_xtb(water, optimize_geometry=False, frequencies=True)
    np.testing.assert_allclose(dft.frequencies_cm1, fast.frequencies_cm1, rtol=1e-12)
    assert dft.n_imaginary == fast.n_imaginary == 0 and len(dft.frequencies_cm1) == 3
    for key in ("zpve", "cv"):  # the same vibrations, rotations and translations
        assert dft.raw[key] == pytest.approx(fast.raw[key], rel=1e-12)
    for a, b in (("U0", "e_elec"), ("U", "U0"), ("H", "U"), ("G", "H")):  # thermal parts: the electronic energies differ
        assert dft.raw[a] - dft.raw[b] == pytest.approx(fast.raw[a] - fast.raw[b], rel=1e-9, abs=1e-12)


def test_frequencies_match_the_eigenvalues_of_a_known_diatomic():
    """H2 at 0.74 Angstrom with force constant k along the bond: one mode, nu = sqrt(k / mu) / (2 pi c)."""
    z, r = np.array([1, 1]), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.398397]])  # bohr
    k = 0.37  # Hartree / bohr^2
    hess = np.zeros((2, 2, 3, 3))
    for a, b, sign in ((0, 0, 1), (1, 1, 1), (0, 1, -1), (1, 0, -1)):
        hess[a, b, 2, 2] = sign * k
    vib = harmonic_frequencies(z, r, hess)
    mu_au = 1.00782503223 / 2 * 1822.888486209  # reduced mass in electron masses
    expected = np.sqrt(k / mu_au) * HARTREE_TO_WAVENUMBER
    assert vib.n_imaginary == 0 and len(vib.frequencies_cm1) == 1
    assert vib.frequencies_cm1[0] == pytest.approx(expected, rel=1e-6)
    flat = harmonic_frequencies(z, r, hess.transpose(0, 2, 1, 3).reshape(6, 6))  # (3n, 3n) layout
    np.testing.assert_allclose(flat.frequencies_cm1, vib.frequencies_cm1)


def test_imaginary_and_zero_modes_are_counted_and_left_out(water_hessian):
    water, hess = water_hessian
    z, r = water.atomic_numbers, water.positions_bohr
    # every curvature flipped: three imaginary modes, no vibration left for the thermochemistry
    vib = harmonic_frequencies(z, r, -hess)
    assert vib.n_imaginary == 3 and len(vib.frequencies_cm1) == 0
    th, vib2 = thermochemistry_from_hessian(z, r, hess, -76.0)
    assert vib2.n_imaginary == 0 and vib2.n_zero == 0 and np.isfinite(list(th.values())).all()
    th_bad, _ = thermochemistry_from_hessian(z, r, -hess, -76.0)
    assert th_bad["zpve"] == 0.0 and np.isfinite(list(th_bad.values())).all()
    with pytest.raises(ValueError, match="Hessian of 3 atoms"):
        harmonic_frequencies(z, r, np.zeros((4, 4)))


def test_symmetry_numbers_of_small_molecules():
    water = (np.array([8, 1, 1]), np.array([[0, 0, 0.2217], [0, 1.4309, -0.8867], [0, -1.4309, -0.8867]]))
    assert symmetry_number(*water) == 2
    assert symmetry_number(*water, tolerance_bohr=0) == 1
