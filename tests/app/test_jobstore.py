"""The job store's states: atomic transitions, the same request's job, recovery after a crash."""

from __future__ import annotations

import threading

import pytest

from molmtl.app.jobstore import JobStore, job_key
from molmtl.errors import InputError


def _store(tmp_path) -> JobStore:
    store = JobStore(tmp_path / "jobs.sqlite")
    store.put_molecule("m" * 16, {"atomic_numbers": [8, 1, 1]}, "query")
    return store


def _job(store: JobStore, method: str = "xtb", options: dict | None = None):
    options = options or {"optimize": True}
    return store.create(key=job_key(method, options, "m" * 16), method=method, options=options, molecule_key="m" * 16,
                        estimate_s=1.0, time_limit_s=60.0)


def test_a_job_goes_queued_running_done_and_no_further(tmp_path):
    store = _store(tmp_path)
    job = _job(store)
    assert job.status == "queued" and job.attempts == 0
    assert store.start(job.id) and not store.start(job.id)  # a job starts once
    assert store.progress(job.id, "Hessian", 0.5, "tcp://w pid 1")
    assert store.get(job.id).stage == "Hessian" and store.get(job.id).fraction == 0.5
    assert store.finish(job.id, {"method": "xtb"})
    assert not store.fail(job.id, "late")  # done is final
    assert not store.progress(job.id, "late stage", None)
    done = store.get(job.id)
    assert done.status == "done" and done.result == {"method": "xtb"} and done.finished >= done.started


def test_of_a_result_and_a_cancel_racing_exactly_one_wins(tmp_path):
    store = _store(tmp_path)
    for _ in range(5):
        job = _job(store, options={"n": _})
        store.start(job.id)
        wins = []
        threads = [threading.Thread(target=lambda: wins.append(store.finish(job.id, {"ok": 1}))),
                   threading.Thread(target=lambda: wins.append(store.fail(job.id, "cancelled", status="cancelled")))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(wins) == [False, True]
        assert store.get(job.id).status in ("done", "cancelled")


def test_the_same_request_finds_its_job_and_a_failed_one_is_not_reused(tmp_path):
    store = _store(tmp_path)
    job = _job(store)
    assert store.latest(job.key, ("queued", "running", "done")).id == job.id
    store.start(job.id)
    store.fail(job.id, "SCF did not converge")
    assert store.latest(job.key, ("queued", "running", "done")) is None
    assert store.latest(job.key).error == "SCF did not converge"
    other = job_key("xtb", {"optimize": False}, "m" * 16)
    assert other != job.key


def test_recovery_requeues_once_then_marks_interrupted(tmp_path):
    store = _store(tmp_path)
    job = _job(store)
    store.start(job.id)  # attempt 1; the server dies
    assert store.recover(max_attempts=2) == (1, 0)
    again = store.get(job.id)
    assert again.status == "queued" and "re-queued" in again.stage
    store.start(job.id)  # attempt 2; the server dies again
    assert store.recover(max_attempts=2) == (0, 1)
    dead = store.get(job.id)
    assert dead.status == "interrupted" and "retry" in dead.error


def test_a_graceful_stop_requeues_without_counting_the_attempt(tmp_path):
    store = _store(tmp_path)
    job = _job(store)
    store.start(job.id)
    assert store.requeue(job.id, "re-queued: the server stopped while it ran")
    assert store.get(job.id).attempts == 0 and store.get(job.id).status == "queued"


def test_a_store_that_is_not_sqlite_is_one_sentence(tmp_path):
    bad = tmp_path / "jobs.sqlite"
    bad.write_text("not a database")
    with pytest.raises(InputError, match="not a usable molmtl web job store"):
        JobStore(bad)
