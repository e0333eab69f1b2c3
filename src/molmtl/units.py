"""Physical constants and unit conversions: the only place molmtl defines them.

Values are CODATA 2018 (as in ``scipy.constants`` and ``pyscf.data.nist``), except the two
factors PyTorch Geometric uses for QM9, kept identical so our eV labels match PyG's to the bit.
"""

from __future__ import annotations

import numpy as np

#: Hartree in eV, as used by PyTorch Geometric's QM9 (CODATA 2018: 27.211386245988).
HARTREE_TO_EV = 27.211386246
#: eV in meV.
EV_TO_MEV = 1000.0
#: kcal/mol in eV, as used by PyTorch Geometric.
KCALMOL_TO_EV = 0.04336414
#: Hartree in kcal/mol (CODATA 2018).
HARTREE_TO_KCALMOL = 627.5094740631
#: Bohr radius in Angstrom (CODATA 2018).
BOHR_TO_ANGSTROM = 0.529177210903
ANGSTROM_TO_BOHR = 1.0 / BOHR_TO_ANGSTROM
#: Atomic unit of electric dipole moment (e * bohr) in Debye (CODATA 2018).
AU_TO_DEBYE = 2.541746473
#: Hartree/K in cal/(mol K): heat capacities from PySCF's thermo (Eh/K) to QM9's unit.
HARTREE_PER_K_TO_CAL_PER_MOL_K = HARTREE_TO_KCALMOL * 1000.0
#: Hartree in cm^-1 (CODATA 2018).
HARTREE_TO_WAVENUMBER = 219474.63136320

#: Boltzmann constant in eV/K (CODATA 2018, exact: 1.380649e-23 J/K / 1.602176634e-19 J/eV).
BOLTZMANN_EV_PER_K = 1.380649e-23 / 1.602176634e-19
#: Planck constant (J s, exact) and atomic mass unit (kg, CODATA 2018), for rotational constants.
PLANCK_J_S = 6.62607015e-34
AMU_KG = 1.66053906660e-27
#: QM9's temperature (K) and pressure (Pa) for U, H, G and Cv.
QM9_TEMPERATURE_K = 298.15
QM9_PRESSURE_PA = 101325.0

#: Symbols of the elements QM9 contains, by atomic number.
SYMBOLS = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}
ATOMIC_NUMBERS = {s: z for z, s in SYMBOLS.items()}
#: Elements inside QM9's chemical space.
QM9_ELEMENTS = frozenset(SYMBOLS)
#: Elements a model may be trained on from a user's CSV (the organic set RDKit's ETKDG + MMFF
#: embed): H, B, C, N, O, F, Si, P, S, Cl, Se, Br, I. QM9 models hold QM9's five.
ML_ELEMENTS = frozenset({1, 5, 6, 7, 8, 9, 14, 15, 16, 17, 34, 35, 53})
#: QM9's size limits: at most 9 heavy atoms and 29 atoms in all.
QM9_MAX_HEAVY_ATOMS = 9
QM9_MAX_ATOMS = 29

#: Most abundant isotope masses (u), as Gaussian uses for rotational constants and frequencies.
MAIN_ISOTOPE_MASS = {1: 1.00782503223, 6: 12.0, 7: 14.00307400443, 8: 15.99491461957, 9: 18.99840316273}

#: QM9's per-element atomic reference energies (Hartree) for the free atoms at B3LYP/6-31G(2df,p),
#: columns U0, U(298.15 K), H(298.15 K), G(298.15 K). Source: the ``atomref`` table published
#: with QM9 (Ramakrishnan et al., Sci. Data 1, 140022 (2014), figshare file ``atomref.txt``),
#: the same numbers PyTorch Geometric uses for its ``*_atom`` targets.
ATOM_REFERENCE_HARTREE: dict[int, dict[str, float]] = {
    1: {"U0": -0.500273, "U": -0.498857, "H": -0.497912, "G": -0.510927},
    6: {"U0": -37.846772, "U": -37.845355, "H": -37.844411, "G": -37.861317},
    7: {"U0": -54.583861, "U": -54.582445, "H": -54.581501, "G": -54.598897},
    8: {"U0": -75.064579, "U": -75.063162, "H": -75.062219, "G": -75.079532},
    9: {"U0": -99.718730, "U": -99.717314, "H": -99.716370, "G": -99.733544},
}


def hartree_to_ev(value):
    """Hartree -> eV (works on floats and arrays)."""
    return value * HARTREE_TO_EV


def ev_to_hartree(value):
    """eV -> Hartree (works on floats and arrays)."""
    return value / HARTREE_TO_EV


def atom_reference_table_hartree(quantity: str, max_z: int | None = None) -> np.ndarray:
    """``(max_z + 1,)`` QM9's free-atom reference energy (Hartree) for ``quantity`` in U0, U, H, G,
    by atomic number (0 for elements QM9 has no reference for). A molecule's element counts times
    this table is its reference sum."""
    table = np.zeros((max_z if max_z is not None else max(ATOM_REFERENCE_HARTREE)) + 1)
    for z, refs in ATOM_REFERENCE_HARTREE.items():
        if z < len(table):
            table[z] = refs[quantity]
    return table


def atom_reference_hartree(atomic_numbers, quantity: str) -> float:
    """Sum of QM9's free-atom reference energies (Hartree) for ``quantity`` in U0, U, H, G."""
    return float(sum(ATOM_REFERENCE_HARTREE[int(z)][quantity] for z in atomic_numbers))
