r"""Rigid-rotor rotational constants from a geometry: pure functions, units in the names.

.. math::
    I = \sum_i m_i \left(\lVert r_i \rVert^2 \mathbb{1} - r_i r_i^\top\right), \qquad
    A \ge B \ge C = \frac{h}{8 \pi^2 I_k}

with positions from the centre of mass and the principal moments :math:`I_k` ascending. Masses
are those of the most abundant isotopes, as Gaussian (hence QM9) uses. Batched: padded
molecules ``(..., N)`` with mass 0 on padding give the same constants as unpadded ones.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from molmtl import units

#: Moments of inertia (kg m^2) below this count as zero (the axis of a linear molecule): about
#: 6e-4 u Angstrom^2, an A of 8.4e5 GHz.
_ZERO_MOMENT_KG_M2 = 1e-50


@cache
def isotope_mass_table(max_z: int) -> np.ndarray:
    """``(max_z + 1,)`` most-abundant-isotope masses (u) by atomic number, 0 at index 0 (padding):
    :data:`molmtl.units.MAIN_ISOTOPE_MASS` for QM9's elements, RDKit's table for the others."""
    table = np.zeros(max_z + 1)
    missing = [z for z in range(1, max_z + 1) if z not in units.MAIN_ISOTOPE_MASS]
    for z, m in units.MAIN_ISOTOPE_MASS.items():
        if z <= max_z:
            table[z] = m
    if missing:
        from rdkit import (
            Chem,  # lazy: only elements beyond QM9's need RDKit's isotope table
        )

        pt = Chem.GetPeriodicTable()
        for z in missing:
            table[z] = pt.GetMostCommonIsotopeMass(z)
    table.setflags(write=False)
    return table


def rotational_constants_ghz(masses_amu, positions_angstrom) -> np.ndarray:
    """Rotational constants A >= B >= C (GHz), ``(..., 3)``; ``inf`` for a zero moment (a linear
    molecule's A; a single atom's all three).

    Args:
        masses_amu: ``(..., N)`` atomic masses (u); 0 for padding.
        positions_angstrom: ``(..., N, 3)`` positions (Angstrom).
    """
    m = np.asarray(masses_amu, float)
    r = np.asarray(positions_angstrom, float)
    total = m.sum(-1, keepdims=True)
    centre = np.einsum("...n,...nc->...c", m, r) / np.where(total > 0, total, 1.0)
    r = r - centre[..., None, :]
    outer = np.einsum("...n,...nj,...nk->...jk", m, r, r)
    inertia = np.trace(outer, axis1=-2, axis2=-1)[..., None, None] * np.eye(3) - outer
    moments = np.linalg.eigvalsh(inertia)  # ascending -> A, B, C; u Angstrom^2
    si = moments * units.AMU_KG * 1e-20
    with np.errstate(divide="ignore"):
        const = np.where(si > _ZERO_MOMENT_KG_M2, units.PLANCK_J_S / (8 * np.pi**2 * np.maximum(si, 1e-300)), np.inf)
    return const / 1e9


def qm9_rotational_constants_ghz(masses_amu, positions_angstrom) -> np.ndarray:
    """Rotational constants as QM9 stores them: 0 where a moment is zero (a linear molecule's A)."""
    abc = rotational_constants_ghz(masses_amu, positions_angstrom)
    return np.where(np.isfinite(abc), abc, 0.0)


__all__ = ["isotope_mass_table", "rotational_constants_ghz", "qm9_rotational_constants_ghz"]
