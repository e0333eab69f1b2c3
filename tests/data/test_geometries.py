"""The 3D geometry store: embed once, read back the same geometry, keep finished work."""

import numpy as np
import pytest

from molmtl.chem.parse import from_smiles
from molmtl.data import geometries
from molmtl.data.geometries import embedded_molecules
from molmtl.errors import InputError


def test_embedded_geometries_are_stored_and_read_back_unchanged(tmp_path, monkeypatch):
    store = tmp_path / "geo.sqlite"
    smiles = ["CCO", "ClCCBr", "CCO", "c1ccccc1O"]
    first = embedded_molecules(smiles, ["a", "b", "c", "d"], store=store)
    assert [m.name for m in first] == ["a", "b", "c", "d"] and first[1].smiles == "ClCCBr"
    fresh = from_smiles("ClCCBr", embed=True)  # the store holds exactly what from_smiles makes
    assert np.array_equal(first[1].atomic_numbers, fresh.atomic_numbers)
    assert np.array_equal(first[1].positions, fresh.positions)
    assert np.array_equal(first[0].positions, first[2].positions)  # one embedding per distinct SMILES

    def no_embedding(*args, **kwargs):
        raise AssertionError("embedded again")

    monkeypatch.setattr("molmtl.chem.parse.from_smiles", no_embedding)
    again = embedded_molecules(smiles, store=store)
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(first, again))
    assert again[3].name == "c1ccccc1O" and again[3].source == "smiles" and again[3].charge == 0


def test_a_bad_smiles_keeps_the_geometries_embedded_before_it(tmp_path, monkeypatch):
    store = tmp_path / "geo.sqlite"
    monkeypatch.setattr(geometries, "BATCH", 2)
    with pytest.raises(InputError):
        embedded_molecules(["CCO", "CCN", "CCC", "C1CC", "CCF"], store=store)
    import sqlite3

    with sqlite3.connect(store) as con:
        stored = sorted(k.split("\n")[1] for (k,) in con.execute("SELECT key FROM geometry"))
    assert stored == ["CCC", "CCN", "CCO"]
