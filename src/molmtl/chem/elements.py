"""Element symbols by atomic number (IUPAC), without RDKit: pure look-ups for molecules built from
XYZ files or QM9 rows, where no RDKit molecule is needed (e.g. DFT on a machine without RDKit)."""

from __future__ import annotations

#: ``SYMBOLS[Z]`` is the symbol of element Z (``SYMBOLS[0]`` is ``"X"``, a dummy atom).
SYMBOLS: tuple[str, ...] = (
    "X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
    "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu",
    "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn",
    "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr",
    "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
)

#: Atomic number of each symbol (case as written above).
NUMBERS: dict[str, int] = {s: z for z, s in enumerate(SYMBOLS)}


def symbol(z: int) -> str:
    """The symbol of atomic number ``z`` (ValueError outside 0..118)."""
    z = int(z)
    if not 0 <= z < len(SYMBOLS):
        raise ValueError(f"no element has atomic number {z}")
    return SYMBOLS[z]


def symbols_text(atomic_numbers) -> str:
    """``"H, C, N, O, F"``: the elements of ``atomic_numbers``, by atomic number, for messages."""
    return ", ".join(symbol(z) for z in sorted(set(int(z) for z in atomic_numbers)))


#: Covalent radii (Angstrom) of elements 1..86 (index 0: a dummy atom), Cordero et al., "Covalent
#: radii revisited", Dalton Trans. 2008, 2832 (sp3 carbon; the values PySCF tabulates). Two atoms
#: are in covalent contact when closer than 1.3 times the sum of their radii.
COVALENT_RADIUS_ANGSTROM: tuple[float, ...] = (
    0.0,
    0.31, 0.28, 1.28, 0.96, 0.84, 0.73, 0.71, 0.66, 0.57, 0.58, 1.66, 1.41, 1.21, 1.11, 1.07, 1.05, 1.02, 1.06,
    2.03, 1.76, 1.70, 1.60, 1.53, 1.39, 1.50, 1.42, 1.38, 1.24, 1.32, 1.22, 1.22, 1.20, 1.19, 1.20, 1.20, 1.16,
    2.20, 1.95, 1.90, 1.75, 1.64, 1.54, 1.47, 1.46, 1.42, 1.39, 1.45, 1.44, 1.42, 1.39, 1.39, 1.38, 1.39, 1.40,
    2.44, 2.15, 2.07, 2.04, 2.03, 2.01, 1.99, 1.98, 1.98, 1.96, 1.94, 1.92, 1.92, 1.89, 1.90, 1.87, 1.87, 1.75,
    1.70, 1.62, 1.51, 1.44, 1.41, 1.36, 1.36, 1.32, 1.45, 1.46, 1.48, 1.40, 1.50, 1.50,
)


__all__ = ["SYMBOLS", "NUMBERS", "COVALENT_RADIUS_ANGSTROM", "symbol", "symbols_text"]
