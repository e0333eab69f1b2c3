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


__all__ = ["SYMBOLS", "NUMBERS", "symbol", "symbols_text"]
