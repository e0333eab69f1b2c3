"""From a Cartesian Hessian to real harmonic frequencies and QM9's thermochemistry.

One step for every method that has a Hessian (the DFT protocol's analytic one, GFN2-xTB's
finite-difference one): mass-weighted harmonic analysis with translations and rotations
projected out (PySCF's ``harmonic_analysis``), main-isotope masses as Gaussian uses, then
:func:`molmtl.dft.thermo.thermochemistry` with the rotational symmetry number of the geometry.

Which modes count: a mode with a positive real frequency is a vibration. A negative or
imaginary one (a saddle point) is counted and left out of the thermochemistry, as is a mode of
exactly zero frequency (a numerical null mode; :math:`\\Theta / T = 0` has no finite vibrational
energy or entropy), so both kinds are reported as ``n_imaginary`` and ``n_zero``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyscf.hessian import thermo as pyscf_thermo
from pyscf.symm import geom

from molmtl.dft import properties
from molmtl.dft import thermo as thermochem
from molmtl.dft.basis import geometry_mole


@dataclass(frozen=True)
class Vibrations:
    """Real harmonic frequencies and what was left out.

    Attributes:
        frequencies_cm1: ``(k,)`` positive real frequencies, cm^-1, ascending.
        n_imaginary: modes with an imaginary (or negative) frequency.
        n_zero: modes of zero frequency.
    """

    frequencies_cm1: np.ndarray
    n_imaginary: int
    n_zero: int = 0


def harmonic_frequencies(atomic_numbers, positions_bohr, hessian) -> Vibrations:
    """Real harmonic frequencies of a Cartesian Hessian.

    Args:
        atomic_numbers: ``(n,)``.
        positions_bohr: ``(n, 3)`` bohr.
        hessian: ``(n, n, 3, 3)`` Hartree/bohr^2 (PySCF's layout), or ``(3n, 3n)``.
    """
    z = np.asarray(atomic_numbers)
    n = len(z)
    hess = np.asarray(hessian, dtype=float)
    if hess.shape == (3 * n, 3 * n):
        hess = hess.reshape(n, 3, n, 3).transpose(0, 2, 1, 3)
    if hess.shape != (n, n, 3, 3):
        raise ValueError(f"a Hessian of {n} atoms has shape ({n}, {n}, 3, 3) or ({3 * n}, {3 * n}), not {hess.shape}")
    mol = geometry_mole(z, positions_bohr)
    freq = np.asarray(pyscf_thermo.harmonic_analysis(mol, hess, mass=properties.main_isotope_masses(z))["freq_wavenumber"])
    real = np.real(freq)
    is_real = np.abs(np.imag(freq)) == 0
    vib = is_real & (real > 0)
    zero = is_real & (real == 0)
    return Vibrations(np.sort(real[vib]), int((~vib & ~zero).sum()), int(zero.sum()))


def symmetry_number(atomic_numbers, positions_bohr, tolerance_bohr: float = 1e-6) -> int:
    """Rotational symmetry number from the point group found within ``tolerance_bohr`` (0: sigma = 1)."""
    if tolerance_bohr <= 0:
        return 1
    mol = geometry_mole(atomic_numbers, positions_bohr)
    old = geom.TOLERANCE
    geom.TOLERANCE = tolerance_bohr
    try:
        return int(pyscf_thermo.rotational_symmetry_number(mol))
    finally:
        geom.TOLERANCE = old


def thermochemistry_from_hessian(atomic_numbers, positions_bohr, hessian, e_elec_hartree: float, *,
                                 symmetry_tolerance_bohr: float = 1e-6, multiplicity: int = 1,
                                 temperature_k: float = thermochem.T_QM9_K,
                                 pressure_pa: float = thermochem.P_QM9_PA) -> tuple[dict[str, float], Vibrations]:
    """QM9's ZPVE, U0, U, H, G (Hartree) and Cv (cal/(mol K)) from a Hessian, and its vibrations.

    The entropy ``S`` is left out of the returned dict (it is no QM9 target).
    """
    vib = harmonic_frequencies(atomic_numbers, positions_bohr, hessian)
    z = np.asarray(atomic_numbers)
    th = thermochem.thermochemistry(
        e_elec_hartree, vib.frequencies_cm1, properties.rotational_constants_ghz(z, positions_bohr),
        float(properties.main_isotope_masses(z).sum()),
        symmetry_number=symmetry_number(z, positions_bohr, symmetry_tolerance_bohr), multiplicity=multiplicity,
        temperature_k=temperature_k, pressure_pa=pressure_pa)
    return {k: v for k, v in th.items() if k != "S"}, vib


def vibration_warnings(vib: Vibrations) -> list[str]:
    """Sentences for the modes left out of the thermochemistry."""
    out = []
    if vib.n_imaginary:
        out.append(f"{vib.n_imaginary} imaginary frequencies: not a minimum; they are left out of the thermochemistry")
    if vib.n_zero:
        out.append(f"{vib.n_zero} modes of zero frequency are left out of the thermochemistry")
    return out


__all__ = ["Vibrations", "vibration_warnings", "harmonic_frequencies", "symmetry_number", "thermochemistry_from_hessian"]
