"""The SQLite results store: keys, states, durability."""

from __future__ import annotations

import sqlite3

import pytest

from molmtl.dft.store import canonical_input, input_key
from molmtl.errors import NotFoundError


def _key(mol, settings=None):
    return input_key(canonical_input(mol, "m", settings or {"a": 1}, {"molmtl": "0"}))


def test_key_is_stable_and_sensitive(water):
    assert _key(water) == _key(water)
    assert _key(water.with_positions(water.positions + 1e-8)) == _key(water)  # below the 1e-6 A rounding
    assert _key(water.with_positions(water.positions + 1e-5)) != _key(water)
    assert _key(water, {"a": 2}) != _key(water)


def test_states_and_reads(store, water):
    canonical = canonical_input(water, "m", {}, {})
    key = input_key(canonical)
    store.start(key, water, canonical)
    assert store.get(key).status == "running"
    store.fail(key, "SCF did not converge in 3 cycles")
    rec = store.get(key)
    assert rec.status == "failed" and rec.error.startswith("SCF") and rec.attempts == 1
    store.start(key, water, canonical)
    store.finish(key, {"raw": {"e_elec": -76.4}, "timings_s": {"scf": 1.0}})
    rec = store.find(key[:6])
    assert rec.status == "done" and rec.attempts == 2 and rec.result["raw"]["e_elec"] == -76.4
    assert rec.timings == {"scf": 1.0} and rec.error is None
    assert store.counts() == {"running": 0, "done": 1, "failed": 0}
    with pytest.raises(NotFoundError):
        store.find("zzzz")
    for not_a_prefix in ("", "_", "%", "_" + key[1:6]):  # no wildcards: only the key's own characters
        with pytest.raises(NotFoundError):
            store.find(not_a_prefix)


def test_wal_mode(store):
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_a_file_that_is_not_a_store_is_an_input_error(tmp_path):
    from molmtl.cli import main
    from molmtl.dft.store import ResultStore
    from molmtl.errors import InputError

    bogus = tmp_path / "mol.xyz"
    bogus.write_text("3\nwater\nO 0 0 0\nH 0 0 1\nH 0 1 0\n")
    with pytest.raises(InputError, match="not a usable molmtl results store"):
        ResultStore(bogus)
    assert main(["dft", "list", "--store", str(bogus)]) == 2
    assert main(["dft", "list", "--store", str(tmp_path)]) == 2  # a folder
