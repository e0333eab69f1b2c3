"""One-electron properties as QM9 (Gaussian 09) reports them: pure functions with units in their names.

Every function takes a PySCF molecule and a density matrix in that molecule's AOs (for the
6D/7F basis: the Cartesian density :math:`T D' T^\\top`).
"""

from __future__ import annotations

import numpy as np
from pyscf import gto, lib
from pyscf.data.elements import COMMON_ISOTOPE_MASSES
from pyscf.scf import cphf

from molmtl import units
from molmtl.chem import rotors


def nuclear_charge_center_bohr(mol: gto.Mole) -> np.ndarray:
    """Centre of nuclear charge, :math:`\\sum_A Z_A R_A / \\sum_A Z_A` (bohr, ``(3,)``)."""
    z = mol.atom_charges()
    return z @ mol.atom_coords() / z.sum()


def dipole_vector_au(mol: gto.Mole, dm: np.ndarray) -> np.ndarray:
    """Dipole moment :math:`\\mu = \\sum_A Z_A R_A - \\mathrm{tr}(D\\, r)` (e bohr, ``(3,)``).

    Neutral molecules give an origin-independent value; the origin is the charge centre.
    """
    origin = nuclear_charge_center_bohr(mol)
    with mol.with_common_orig(origin):
        r_ao = mol.intor_symmetric("int1e_r", comp=3)
    z = mol.atom_charges()
    return z @ (mol.atom_coords() - origin) - np.einsum("xij,ji->x", r_ao, dm)


def dipole_moment_debye(mol: gto.Mole, dm: np.ndarray) -> float:
    """Norm of the dipole moment (D)."""
    return float(np.linalg.norm(dipole_vector_au(mol, dm)) * units.AU_TO_DEBYE)


def spatial_extent_bohr2(mol: gto.Mole, dm: np.ndarray) -> float:
    """Electronic spatial extent :math:`\\langle R^2\\rangle = \\mathrm{tr}(D\\, r^2)` (bohr^2).

    Gaussian (hence QM9) takes :math:`r` from the centre of nuclear charge.
    """
    with mol.with_common_orig(nuclear_charge_center_bohr(mol)):
        r2_ao = mol.intor_symmetric("int1e_r2")
    return float(np.einsum("ij,ji->", dm, r2_ao))


def main_isotope_masses(atomic_numbers) -> np.ndarray:
    """``(n,)`` most-abundant-isotope masses (u), as Gaussian uses: :data:`molmtl.units.MAIN_ISOTOPE_MASS`
    for QM9's elements, PySCF's table of common isotopes for the others."""
    return np.array([units.MAIN_ISOTOPE_MASS.get(int(z), COMMON_ISOTOPE_MASSES[int(z)]) for z in atomic_numbers],
                    dtype=float)


def rotational_constants_ghz(atomic_numbers, positions_bohr, masses_amu=None) -> np.ndarray:
    """Rotational constants :math:`A \\ge B \\ge C` (GHz, ``(3,)``; :func:`molmtl.chem.rotors.rotational_constants_ghz`).

    Masses default to the most abundant isotopes, as Gaussian uses. A zero moment of inertia
    (linear molecule) gives ``inf``; QM9 stores 0 there (see :func:`qm9_rotational_constants_ghz`).

    Args:
        atomic_numbers: ``(n,)``.
        positions_bohr: ``(n, 3)`` bohr.
        masses_amu: ``(n,)`` u; default: :func:`main_isotope_masses`.
    """
    z = np.asarray(atomic_numbers, dtype=int)
    m = main_isotope_masses(z) if masses_amu is None else np.asarray(masses_amu, float)
    return rotors.rotational_constants_ghz(m, np.asarray(positions_bohr, float) * units.BOHR_TO_ANGSTROM)


def qm9_rotational_constants_ghz(atomic_numbers, positions_bohr) -> np.ndarray:
    """Rotational constants as QM9 stores them: ``A = 0`` for linear molecules (GHz)."""
    abc = rotational_constants_ghz(atomic_numbers, positions_bohr)
    return np.where(np.isfinite(abc), abc, 0.0)


def _cpks_response(mf, orbv, orbo):
    """Closed-shell orbital-response operator on virtual-occupied rotations ``(nvir, nocc)``."""
    nvir, nocc = orbv.shape[1], orbo.shape[1]
    vresp = mf.gen_response(mf.mo_coeff, mf.mo_occ, hermi=1)

    def fx(mo1):
        mo1 = mo1.reshape(-1, nvir, nocc)
        dm1 = np.empty((len(mo1), orbv.shape[0], orbv.shape[0]))
        for i, x in enumerate(mo1):
            dm = orbv @ (x * 2) @ orbo.T  # x 2: double occupancy
            dm1[i] = dm + dm.T
        v1 = vresp(dm1)
        return lib.einsum("xpq,pi,qj->xij", v1, orbv, orbo).reshape(-1, nvir * nocc)

    return fx


def polarizability_tensor_au(mf, *, tol: float = 1e-9, max_cycle: int = 50) -> np.ndarray:
    """Static dipole polarizability by coupled-perturbed Kohn-Sham (bohr^3, ``(3, 3)``).

    Solves :math:`(\\epsilon_a - \\epsilon_i) U^y_{ai} + [K U^y]_{ai} = -h^y_{ai}`,
    :math:`h^y_{ai} = \\langle a|r_y|i\\rangle`, and returns
    :math:`\\alpha_{xy} = -2 \\sum_{ai} (h^x_{ai} U^y_{ai} + h^y_{ai} U^x_{ai})`, as
    ``pyscf.prop.polarizability.rhf`` (pyscf-properties) does.

    Args:
        mf: a converged closed-shell (R)KS object whose ``mo_coeff`` are in ``mf.mol``'s AOs
            (for the 6D/7F basis pass :func:`molmtl.dft.projected.cartesian_shadow`).
    """
    mol = mf.mol
    occ = mf.mo_occ > 0
    orbo, orbv = mf.mo_coeff[:, occ], mf.mo_coeff[:, ~occ]
    with mol.with_common_orig(nuclear_charge_center_bohr(mol)):
        int_r = mol.intor_symmetric("int1e_r", comp=3)
    h1 = lib.einsum("xpq,pi,qj->xij", int_r, orbv, orbo)
    mo1 = cphf.solve(_cpks_response(mf, orbv, orbo), mf.mo_energy, mf.mo_occ, h1, None, max_cycle, tol)[0]
    e2 = np.einsum("xpi,ypi->xy", h1, mo1)
    return -2 * (e2 + e2.T)


def isotropic_polarizability_bohr3(tensor_au: np.ndarray) -> float:
    """Isotropic polarizability :math:`\\mathrm{tr}(\\alpha)/3` (bohr^3)."""
    return float(np.trace(tensor_au) / 3.0)


def finite_field_polarizability_au(mf_factory, mol: gto.Mole, *, field_au: float = 1e-3,
                                   axes: tuple[int, ...] = (0, 1, 2)) -> np.ndarray:
    """Polarizability by central finite differences of the dipole in a uniform field (bohr^3).

    A check on :func:`polarizability_tensor_au`. ``mf_factory(mol)`` returns a fresh SCF object;
    the field enters as :math:`h \\to h + F\\cdot r` (origin: charge centre).

    Returns:
        ``(3, 3)``: :math:`\\alpha_{xy} = \\partial \\mu_x / \\partial F_y` for ``y`` in ``axes``
        (other columns zero); two SCF runs per axis.
    """
    origin = nuclear_charge_center_bohr(mol)
    with mol.with_common_orig(origin):
        r_ao = mol.intor_symmetric("int1e_r", comp=3)
    alpha = np.zeros((3, 3))
    for y in axes:
        dips = []
        for sign in (+1, -1):
            mf = mf_factory(mol)
            h0 = mf.get_hcore()
            perturb = sign * field_au * r_ao[y]
            if hasattr(mf, "ao_map"):
                perturb = mf.ao_map.T @ perturb @ mf.ao_map
            mf.get_hcore = lambda *a, h=h0 + perturb: h
            mf.conv_tol = 1e-11
            mf.kernel()
            dm = mf.cart_rdm1() if hasattr(mf, "cart_rdm1") else mf.make_rdm1()
            dips.append(dipole_vector_au(mol, dm))
        alpha[:, y] = (dips[0] - dips[1]) / (2 * field_au)
    return alpha
