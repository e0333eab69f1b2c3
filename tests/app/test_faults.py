"""Faults: the server SIGKILLed during an xTB job and started again loses no finished result,
leaves no worker process behind, and re-queues the job, which then finishes. (A second crash
during the same job marks it interrupted: ``test_jobstore.py``; a worker process killed during a
job fails it with a reason: ``test_api_jobs.py``.)"""

from __future__ import annotations

import sqlite3
import time

import httpx
from webhelp import Server, wait_for_job

QUICK = {"optimize": False, "frequencies": False}


def _wait_running(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] == "running" and job["stage"] not in (None, "waiting for a worker"):
            return job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not start in {timeout} s")


def test_a_server_killed_during_a_job_loses_nothing_and_runs_it_again(tmp_path):
    server = Server(tmp_path).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            done = client.post("/api/jobs", json={"molecule": {"query": "O"}, "method": "xtb", "options": QUICK}).json()
            finished = wait_for_job(client, done["id"])
            assert finished["status"] == "done"
            slow = client.post("/api/jobs", json={"molecule": {"query": "CCCCC"}, "method": "xtb"}).json()
            _wait_running(client, slow["id"])
        server.kill()  # SIGKILL: no shutdown, no chance to re-queue anything; its workers go with it
        with sqlite3.connect(tmp_path / "web" / "jobs.sqlite") as con:
            left = dict(con.execute("SELECT id, status FROM jobs").fetchall())
        assert left == {done["id"]: "done", slow["id"]: "running"}

        server.start()
        assert "jobs left running by a server that stopped: 1 re-queued, 0 marked interrupted" in server.log()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            kept = client.get(f"/api/jobs/{done['id']}").json()
            assert kept["status"] == "done" and kept["result"] == finished["result"]  # no finished result lost
            assert client.get(f"/api/jobs/{slow['id']}").json()["status"] in ("queued", "running")
            redone = wait_for_job(client, slow["id"], timeout=300)
            assert redone["status"] == "done" and redone["attempts"] == 2 and redone["result"]["method"] == "xtb"
            same = client.post("/api/jobs", json={"molecule": {"query": "CCCCC"}, "method": "xtb"})
            assert same.status_code == 200 and same.json()["id"] == slow["id"]  # the same request: its result at once
    finally:
        server.stop()
