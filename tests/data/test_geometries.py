"""The 3D geometry store: embed once, read back the same geometry, keep finished work."""

import numpy as np
import pytest

from molmtl.chem.embed import EMBED_SEED, FALLBACK_NOTE
from molmtl.chem.parse import from_smiles
from molmtl.data import geometries
from molmtl.data.geometries import embed_smiles, embedded_molecules
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

    monkeypatch.setattr("molmtl.data.geometries.from_smiles", no_embedding)
    again = embedded_molecules(smiles, store=store)
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(first, again))
    assert again[3].name == "c1ccccc1O" and again[3].source == "smiles" and again[3].charge == 0


def _stored(store, table="geometry"):
    import sqlite3

    with sqlite3.connect(store) as con:
        return sorted(k.split("\n")[1] for (k,) in con.execute(f"SELECT key FROM {table}"))


def test_a_bad_smiles_is_reported_per_molecule_and_not_tried_again(tmp_path, monkeypatch):
    store = tmp_path / "geo.sqlite"
    monkeypatch.setattr(geometries, "BATCH", 2)
    smiles = ["CCO", "CCN", "CCC", "C1CC", "CCF"]
    result = embed_smiles(smiles, store=store)
    assert [m is None for m in result.molecules] == [False, False, False, True, False]
    assert result.errors[3].startswith("'C1CC' is not a valid SMILES") and result.errors.count(None) == 4
    assert _stored(store) == ["CCC", "CCF", "CCN", "CCO"] and _stored(store, "note") == ["C1CC"]

    def no_embedding(*args, **kwargs):
        raise AssertionError("tried again")

    monkeypatch.setattr("molmtl.data.geometries.from_smiles", no_embedding)
    with pytest.raises(InputError, match="C1CC"):  # all or nothing: the stored reason
        embedded_molecules(smiles, store=store)
    assert embed_smiles(["C1CC"], store=store).errors == result.errors[3:4]


def test_an_interrupted_embedding_keeps_the_geometries_made_before_it(tmp_path, monkeypatch):
    store = tmp_path / "geo.sqlite"
    monkeypatch.setattr(geometries, "BATCH", 2)
    real, calls = from_smiles, []

    def interrupted(smiles, **kwargs):
        calls.append(smiles)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(smiles, **kwargs)

    monkeypatch.setattr("molmtl.data.geometries.from_smiles", interrupted)
    with pytest.raises(KeyboardInterrupt):
        embed_smiles(["CCO", "CCN", "CCC", "CCF", "CCCl"], store=store)
    assert _stored(store) == ["CCC", "CCN", "CCO"]


def test_a_strained_cage_etkdg_rejects_gets_a_fallback_geometry_and_says_so(tmp_path):
    # QM9 41303: ETKDG v3 fails its tetrahedral-centre check on every attempt, with or without
    # random coordinates; the heavy-atom fallback embeds it
    from rdkit import Chem
    from rdkit.Chem import AllChem

    smiles = "C1C2OC34COC3C2C14"
    plain = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed, params.useRandomCoords = EMBED_SEED, True
    assert AllChem.EmbedMolecule(plain, params) != 0
    store = tmp_path / "geo.sqlite"
    mol = embedded_molecules([smiles], store=store)[0]
    assert FALLBACK_NOTE in mol.warnings
    rdmol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    d = np.linalg.norm(mol.positions[:, None] - mol.positions[None], axis=-1)
    bonds = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in rdmol.GetBonds()])
    assert np.all((d[bonds[:, 0], bonds[:, 1]] > 0.9) & (d[bonds[:, 0], bonds[:, 1]] < 1.7))  # MMFF-relaxed bonds
    d[bonds[:, 0], bonds[:, 1]] = d[bonds[:, 1], bonds[:, 0]] = np.inf
    assert d[~np.eye(len(d), dtype=bool)].min() > 1.4  # no atoms on top of each other
    again = embedded_molecules([smiles], store=store)[0]  # read back: the same geometry, the warning kept
    assert np.array_equal(again.positions, mol.positions) and again.warnings == mol.warnings


def test_worker_processes_store_the_same_geometries_failures_and_warnings(tmp_path, monkeypatch):
    # a pool of two processes embeds (the BATCH cut lowered so that 12 molecules use it); the
    # store then holds byte for byte what one process makes, with the same failure and warning
    smiles = ["CCO", "CC(=O)N", "C1CC1", "c1ccncc1", "not a smiles", "C1C2OC34COC3C2C14", "OCC#N",
              "CC(C)(C)O", "FC(F)F", "C#CC=O", "CN1CC1", "COC=O"]
    monkeypatch.setattr(geometries, "BATCH", 5)
    pools = []
    real_pool = geometries.ProcessPoolExecutor

    def counted_pool(*args, **kwargs):
        pools.append(kwargs.get("max_workers"))
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(geometries, "ProcessPoolExecutor", counted_pool)
    two = embed_smiles(smiles, store=tmp_path / "two.sqlite", workers=2)
    assert pools == [2]
    one = embed_smiles(smiles, store=tmp_path / "one.sqlite", workers=1)
    assert pools == [2]  # one worker: this process
    assert two.errors == one.errors and two.errors[4] is not None and sum(e is not None for e in two.errors) == 1
    for a, b in zip(two.molecules, one.molecules):
        assert (a is None) == (b is None)
        if a is not None:
            assert np.array_equal(a.positions, b.positions) and a.warnings == b.warnings
    assert FALLBACK_NOTE in two.molecules[5].warnings
    assert _stored(tmp_path / "two.sqlite") == _stored(tmp_path / "one.sqlite")
    assert _stored(tmp_path / "two.sqlite", "note") == _stored(tmp_path / "one.sqlite", "note")
