"""Batch fan-out: failures recorded, resumable, durable when killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from molmtl.dft.fanout import read_batch_csv, run_batch
from molmtl.dft.protocol import QM9Protocol
from molmtl.dft.store import ResultStore
from molmtl.fanout import make_client

CHEAP = dict(basis="sto-3g", convention="spherical", optimize=False, thermo=False, polarizability=False,
             grid=(40, 110), device="cpu")
CLI_CHEAP = ["--no-opt", "--no-thermo", "--no-polar", "--basis", "sto-3g", "--device", "cpu"]


def _csv(tmp_path, rows):
    path = tmp_path / "batch.csv"
    path.write_text("name,smiles\n" + "\n".join(f"{n},{s}" for n, s in rows) + "\n")
    return path


def test_serial_batch_records_failures_and_resumes(tmp_path):
    path = _csv(tmp_path, [("methane", "C"), ("water", "O"), ("junk", "C1CC"), ("hydroxide", "[OH-]")])
    items = read_batch_csv(path)
    assert [i.error is None for i in items] == [True, True, False, True]
    store = ResultStore(tmp_path / "s.sqlite")
    seen = []
    summary = run_batch(items, QM9Protocol(**CHEAP), store, progress=lambda n, s: seen.append((n, s)))
    assert summary.done == 2 and set(summary.failed) == {"junk", "hydroxide"}
    assert "charge" in summary.failed["hydroxide"]
    assert store.counts() == {"running": 0, "done": 2, "failed": 2}
    assert store.get(summary.keys["hydroxide"]).attempts == 2  # retried once
    again = run_batch(read_batch_csv(path), QM9Protocol(**CHEAP), store)
    assert again.done == 2 and again.cached == 2


def test_dask_local_cluster(tmp_path):
    items = read_batch_csv(_csv(tmp_path, [("water", "O"), ("ammonia", "N")]))
    store = ResultStore(tmp_path / "s.sqlite")
    client = make_client(n_workers=1)
    try:
        summary = run_batch(items, QM9Protocol(**CHEAP), store, client=client)
    finally:
        client.close()
        client.cluster.close()
    assert summary.done == 2 and not summary.failed
    assert store.counts()["done"] == 2


def test_killed_batch_keeps_finished_results_and_resumes(tmp_path):
    smiles = ["C", "N", "O", "F", "[H][H]", "C#C", "CC", "CO", "C=O", "CN", "CF", "OO"]  # enough that a poll lands mid-run
    molecules = [(f"m{i}", s) for i, s in enumerate(smiles)]
    path = _csv(tmp_path, molecules)
    db = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-c", "from molmtl.cli import main; main()", "dft", "batch", str(path), "--workers", "0",
           "--store", str(db), *CLI_CHEAP]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done_before = 0
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if db.exists():
                done_before = ResultStore(db).counts()["done"]
                if done_before >= 1:
                    break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    store = ResultStore(db)
    assert 1 <= store.counts()["done"] < len(molecules), "the batch should have been killed mid-run"
    finished = {r.key: r.result for r in store.records("done")}
    assert all(res and "raw" in res for res in finished.values())
    # the protocol `dft batch` built from CLI_CHEAP: same settings, hence the same keys
    cli_proto = QM9Protocol(basis="sto-3g", convention="spherical", optimize=False, thermo=False, polarizability=False)
    summary = run_batch(read_batch_csv(path), cli_proto, store)
    assert summary.done == len(molecules) and summary.cached >= len(finished)
    assert {k: store.get(k).result for k in finished} == finished  # untouched


def test_lost_worker_is_recorded_failed_with_reason(tmp_path, monkeypatch):
    from molmtl.dft import fanout

    lost = lambda items, *a: [("", "failed", "worker lost: KilledWorker: boom", False) for _ in items]  # noqa: E731
    monkeypatch.setattr(fanout, "_execute", lost)
    store = ResultStore(tmp_path / "s.sqlite")
    summary = run_batch(read_batch_csv(_csv(tmp_path, [("water", "O")])), QM9Protocol(**CHEAP), store)
    assert summary.failed == {"water": "worker lost: KilledWorker: boom"}
    rec = store.get(summary.keys["water"])
    assert rec is not None and rec.status == "failed" and "worker lost" in rec.error and rec.attempts >= 1


def test_batch_csv_with_bom_and_bad_encoding(tmp_path):
    import pytest

    from molmtl.errors import InputError

    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfname,smiles\nwater,O\n")  # as spreadsheet programs save 'CSV UTF-8'
    items = read_batch_csv(bom)
    assert [(i.name, i.error) for i in items] == [("water", None)]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"name,smiles\nw\xe9,O\n")
    with pytest.raises(InputError, match="not a readable UTF-8 CSV"):
        read_batch_csv(latin)


def test_batch_of_qm9_ids_loads_qm9_once(tmp_path, monkeypatch, qm9):
    import molmtl.dft.fanout as fanout_module

    calls = []
    monkeypatch.setattr(fanout_module, "load_qm9", lambda *a, **k: calls.append(1) or qm9)
    path = tmp_path / "ids.csv"
    path.write_text("qm9_id\n1\n2\nqm9:3\n")
    items = read_batch_csv(path)
    assert [i.molecule.qm9_index for i in items] == [1, 2, 3] and len(calls) == 1
