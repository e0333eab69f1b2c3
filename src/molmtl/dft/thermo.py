"""Ideal-gas / rigid-rotor / harmonic-oscillator thermochemistry, as Gaussian (hence QM9) computes it.

Reference: J. W. Ochterski, "Thermochemistry in Gaussian" (Gaussian, Inc., 2000). With
:math:`\\Theta_k = h c \\tilde\\nu_k / k_B` for the real harmonic frequencies:

.. math::
    \\mathrm{ZPVE} = \\tfrac12 \\sum_k h c \\tilde\\nu_k, \\qquad
    E_{\\mathrm{vib}} = R \\sum_k \\Theta_k \\left(\\tfrac12 + \\frac{1}{e^{\\Theta_k/T}-1}\\right),

:math:`E_{\\mathrm{trans}} = \\tfrac32 RT`, :math:`E_{\\mathrm{rot}} = \\tfrac32 RT` (:math:`RT` if linear),
:math:`U_0 = E_{\\mathrm{el}} + \\mathrm{ZPVE}`, :math:`U = E_{\\mathrm{el}} + E_{\\mathrm{trans}} +
E_{\\mathrm{rot}} + E_{\\mathrm{vib}}`, :math:`H = U + k_B T`, :math:`G = H - TS`. Entropies use the
Sackur-Tetrode translational term at pressure :math:`p`, the rotational partition function with
symmetry number :math:`\\sigma`, and a singlet electronic ground state (:math:`S_{\\mathrm{el}} = 0`).
Frequencies are used unscaled, as in QM9.
"""

from __future__ import annotations

import numpy as np
from scipy import constants as sc

from molmtl import units

#: QM9's temperature (K) and pressure (Pa).
T_QM9_K = units.QM9_TEMPERATURE_K
P_QM9_PA = units.QM9_PRESSURE_PA

_HARTREE_J = sc.physical_constants["Hartree energy"][0]
_R_HARTREE_PER_K = sc.k / _HARTREE_J  # k_B in Eh/K (per molecule: energies below are per molecule)


def zpve_hartree(frequencies_cm1) -> float:
    """Zero-point vibrational energy :math:`\\tfrac12 \\sum_k h c \\tilde\\nu_k` (Hartree)."""
    nu = np.asarray(frequencies_cm1, float)
    return float(0.5 * nu.sum() / units.HARTREE_TO_WAVENUMBER)


def thermochemistry(e_elec_hartree: float, frequencies_cm1, rotational_constants_ghz, mass_amu: float, *,
                    symmetry_number: int = 1, multiplicity: int = 1,
                    temperature_k: float = T_QM9_K, pressure_pa: float = P_QM9_PA) -> dict[str, float]:
    """QM9's thermochemical quantities from an electronic energy and real harmonic frequencies.

    Args:
        e_elec_hartree: electronic (SCF) energy, Hartree.
        frequencies_cm1: ``(3N-6,)`` (``3N-5`` if linear) real frequencies, cm^-1.
        rotational_constants_ghz: ``(3,)``, A >= B >= C, GHz; ``A = inf`` or ``0`` marks a linear molecule.
        mass_amu: molecular mass (u), main isotopes.
        symmetry_number: rotational symmetry number :math:`\\sigma`.
        multiplicity: spin multiplicity (electronic entropy :math:`R \\ln g`).
        temperature_k, pressure_pa: conditions (QM9: 298.15 K, 1 atm).

    Returns:
        ``zpve``, ``U0``, ``U``, ``H``, ``G`` (Hartree), ``cv`` (cal/(mol K)), ``S`` (Hartree/K).
    """
    t = float(temperature_k)
    kt = _R_HARTREE_PER_K * t
    nu = np.asarray(frequencies_cm1, float)
    abc = np.asarray(rotational_constants_ghz, float)
    linear = (not np.isfinite(abc[0])) or abc[0] == 0.0

    # translation
    m = mass_amu * sc.atomic_mass
    q_trans = (2 * np.pi * m * sc.k * t / sc.h**2) ** 1.5 * sc.k * t / pressure_pa
    s_trans = _R_HARTREE_PER_K * (np.log(q_trans) + 2.5)
    e_trans, cv_trans = 1.5 * kt, 1.5 * _R_HARTREE_PER_K
    # rotation: Theta_r = h B / k
    theta_rot = sc.h * abc * 1e9 / sc.k
    if linear:
        q_rot = t / (symmetry_number * theta_rot[1])
        s_rot, e_rot, cv_rot = _R_HARTREE_PER_K * (np.log(q_rot) + 1.0), kt, _R_HARTREE_PER_K
    else:
        q_rot = np.sqrt(np.pi) / symmetry_number * t**1.5 / np.sqrt(np.prod(theta_rot))
        s_rot, e_rot, cv_rot = _R_HARTREE_PER_K * (np.log(q_rot) + 1.5), 1.5 * kt, 1.5 * _R_HARTREE_PER_K
    # vibration
    theta_vib = sc.h * sc.c * 100.0 * nu / sc.k
    x = theta_vib / t
    e_vib = _R_HARTREE_PER_K * float(np.sum(theta_vib * (0.5 + 1.0 / np.expm1(x))))
    cv_vib = _R_HARTREE_PER_K * float(np.sum(x**2 * np.exp(x) / np.expm1(x) ** 2))
    s_vib = _R_HARTREE_PER_K * float(np.sum(x / np.expm1(x) - np.log1p(-np.exp(-x))))
    s_elec = _R_HARTREE_PER_K * np.log(multiplicity)

    zpve = zpve_hartree(nu)
    u = e_elec_hartree + e_trans + e_rot + e_vib
    h = u + kt
    s_tot = s_trans + s_rot + s_vib + s_elec
    cv = (cv_trans + cv_rot + cv_vib) * units.HARTREE_PER_K_TO_CAL_PER_MOL_K
    return {"zpve": zpve, "U0": e_elec_hartree + zpve, "U": u, "H": h, "G": h - t * s_tot, "cv": cv, "S": s_tot}
