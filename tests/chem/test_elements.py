"""The element table, and XYZ input (the DFT path) without RDKit."""

import sys

import pytest

from molmtl.chem.elements import NUMBERS, SYMBOLS, symbol
from molmtl.chem.parse import from_xyz_text
from molmtl.errors import InputError

WATER = "3\nwater\nO 0.0 0.0 0.1173\nH 0.0 0.7572 -0.4692\nH 0.0 -0.7572 -0.4692\n"


def test_symbols_match_rdkit():
    from rdkit.Chem import GetPeriodicTable

    table = GetPeriodicTable()
    assert len(SYMBOLS) == 119
    assert [table.GetElementSymbol(z) for z in range(1, 119)] == list(SYMBOLS[1:])
    assert NUMBERS["Cl"] == 17 and symbol(8) == "O"
    with pytest.raises(ValueError):
        symbol(119)


def test_xyz_reads_without_rdkit(monkeypatch):
    with_rdkit = from_xyz_text(WATER, name="water")
    for name in [m for m in sys.modules if m == "rdkit" or m.startswith("rdkit.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rdkit", None)  # import rdkit -> ImportError
    mol = from_xyz_text(WATER, name="water")
    assert mol.symbols == ["O", "H", "H"] and mol.formula == "H2O" and mol.smiles is None
    assert (mol.positions == with_rdkit.positions).all() and with_rdkit.smiles == "O"
    with pytest.raises(InputError, match="not a chemical element"):
        from_xyz_text(WATER.replace("O 0.0", "Xq 0.0"), name="bad")
