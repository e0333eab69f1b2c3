"""Jobs on real Dask worker processes: progress, the same request's job, the results store,
cancelling, the time limit, a killed worker, a full queue; and ``POST /api/compare`` over them."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest
from fastapi.testclient import TestClient
from webhelp import settings_for, wait_for_job

from molmtl.app.main import create_app
from molmtl.app.molecules import molecule_from_query
from molmtl.dft.store import ResultStore
from molmtl.methods.registry import METHODS

QUICK = {"optimize": False, "frequencies": False}  # GFN2-xTB single point: a fraction of a second
#: GFN2-xTB optimization and Hessian of hexane (20 atoms): seconds, long enough to watch or stop
SLOW_MOLECULE = {"query": "CCCCCC"}


def _worker_pid(client, job_id: str, timeout: float = 60.0) -> int:
    """The process id of the Dask worker running ``job_id`` (the job store records it with the progress)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with sqlite3.connect(client.folder / "web" / "jobs.sqlite") as con:
            worker = con.execute("SELECT worker FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        if worker:
            assert " pid " in worker, worker
            return int(worker.rsplit("pid ", 1)[1])
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} reported no worker in {timeout} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_xtb_job_runs_in_a_worker_and_reports_its_stages(jobs_api):
    r = jobs_api.post("/api/jobs", json={"molecule": {"query": "CC(=O)O"}, "method": "xtb", "options": {"optimize": False}})
    assert r.status_code == 202
    job = r.json()
    assert job["status"] in ("queued", "running") and job["links"]["page"] == f"/jobs/{job['id']}"
    seen = set()
    end = time.monotonic() + 120
    while (now := jobs_api.get(f"/api/jobs/{job['id']}").json())["status"] not in ("done", "failed"):
        seen.add(now["stage"])
        assert time.monotonic() < end
        time.sleep(0.05)
    assert now["status"] == "done", now["error"]
    result = now["result"]
    assert result["schema"] == "molmtl.result" and result["method"] == "xtb" and result["level_of_theory"] == "GFN2-xTB"
    assert result["units"]["homo"] == "eV" and result["properties"]["zpve"] > 0
    assert result["extras"]["not_comparable"] == ["U0", "U", "H", "G"]
    assert seen & {"starting", "single point", "Hessian", "waiting for a worker"}, seen
    assert now["elapsed_s"] > 0 and now["attempts"] == 1


def test_the_same_request_gives_the_same_job_and_its_stored_result(jobs_api):
    body = {"molecule": {"query": "O"}, "method": "xtb", "options": QUICK}
    first = jobs_api.post("/api/jobs", json=body).json()
    done = wait_for_job(jobs_api, first["id"])
    again = jobs_api.post("/api/jobs", json=body)
    assert again.status_code == 200 and again.json()["id"] == first["id"] and again.json()["status"] == "done"
    spelled_out = jobs_api.post("/api/jobs", json={**body, "options": {**QUICK}}).json()
    assert spelled_out["id"] == first["id"]
    assert done["result"]["properties"] == again.json()["result"]["properties"]


def test_a_calculation_in_the_results_store_is_a_job_done_at_once(tmp_path, qm9):
    store = ResultStore(tmp_path / "dft.sqlite")
    mol = molecule_from_query("N", qm9)
    METHODS.build("xtb", store=store, **QUICK).run(mol)  # what `molmtl dft xtb` or an earlier server stored
    app = create_app(settings_for(tmp_path, start_workers=False), qm9=qm9)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        r = client.post("/api/jobs", json={"molecule": {"query": "N"}, "method": "xtb", "options": QUICK})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done" and r.json()["cached"] and r.json()["result"]["provenance"]["cached"]


def test_cancelling_a_running_job_restarts_its_worker(jobs_api):
    job = jobs_api.post("/api/jobs", json={"molecule": SLOW_MOLECULE, "method": "xtb"}).json()
    pid = _worker_pid(jobs_api, job["id"])
    r = jobs_api.delete(f"/api/jobs/{job['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and "cancelled by the user" in r.json()["error"]
    end = time.monotonic() + 30
    while _alive(pid):
        assert time.monotonic() < end, "the worker of a cancelled job was not restarted"
        time.sleep(0.2)
    assert jobs_api.delete(f"/api/jobs/{job['id']}").json()["status"] == "cancelled"  # a final job stays as it is
    after = jobs_api.post("/api/jobs", json={"molecule": {"query": "C#N"}, "method": "xtb", "options": QUICK}).json()
    assert wait_for_job(jobs_api, after["id"])["status"] == "done"  # the restarted worker takes the next job


def test_a_killed_worker_fails_its_job_with_a_reason_and_the_server_goes_on(jobs_api):
    job = jobs_api.post("/api/jobs", json={"molecule": {"query": "CCCCC"}, "method": "xtb"}).json()
    os.kill(_worker_pid(jobs_api, job["id"]), signal.SIGKILL)
    failed = wait_for_job(jobs_api, job["id"])
    assert failed["status"] == "failed" and "worker process running it died" in failed["error"]
    assert jobs_api.get("/api/health").status_code == 200
    after = jobs_api.post("/api/jobs", json={"molecule": {"query": "C=O"}, "method": "xtb", "options": QUICK}).json()
    assert wait_for_job(jobs_api, after["id"])["status"] == "done"


def test_a_job_past_its_time_limit_is_stopped(tmp_path, qm9, dask_client):
    app = create_app(settings_for(tmp_path, time_limit_s={"xtb": 1.0, "dft": 1.0}), qm9=qm9, client=dask_client)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        job = client.post("/api/jobs", json={"molecule": {"query": "CCCCCCC"}, "method": "xtb"}).json()
        stopped = wait_for_job(client, job["id"], timeout=60)
        assert stopped["status"] == "failed" and "time limit" in stopped["error"]
        assert client.get("/api/health").json()["status"] == "ok"


def test_a_full_queue_is_429_with_retry_after(tmp_path, qm9):
    app = create_app(settings_for(tmp_path, start_workers=False, queue_limit=2), qm9=qm9)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for q in ("C", "N"):
            assert client.post("/api/jobs", json={"molecule": {"query": q}, "method": "xtb"}).status_code == 202
        full = client.post("/api/jobs", json={"molecule": {"query": "O"}, "method": "xtb"})
        assert full.status_code == 429 and int(full.headers["retry-after"]) >= 5 and "queue is full" in full.json()["detail"]
        queued = client.get("/api/jobs").json()
        assert [j["queue_position"] for j in reversed(queued)] == [1, 2]
        cancelled = client.delete(f"/api/jobs/{queued[0]['id']}").json()
        assert cancelled["status"] == "cancelled"
        assert client.post("/api/jobs", json={"molecule": {"query": "O"}, "method": "xtb"}).status_code == 202


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"molecule": {"query": "C"}, "method": "ml"}, 422, "answers in the request"),
    ({"molecule": {"query": "C"}, "method": "nope"}, 422, "unknown method"),
    ({"molecule": {"query": "C"}, "method": "xtb", "options": {"optimise": True}}, 422, "takes no option 'optimise'"),
    ({"molecule": {"query": "C"}, "method": "dft", "options": {"basis": "/etc/passwd"}}, 422, "takes no option 'basis'"),
    ({"molecule": {"query": "C"}, "method": "xtb", "options": {"optimize": "maybe"}}, 422, "optimize"),
    ({"molecule": {"query": "[Na+].[Cl-]", "largest_fragment": True}, "method": "dft"}, 422, "Na"),
    ({"molecule": {"query": "C1CC"}, "method": "xtb"}, 422, "not a valid SMILES"),
])
def test_job_requests_that_cannot_run_are_one_sentence(api, body, status, words):
    r = api.post("/api/jobs", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_dft_estimated_beyond_the_limit_is_refused_before_it_starts(tmp_path, qm9):
    app = create_app(settings_for(tmp_path, start_workers=False, max_dft_minutes=0.01), qm9=qm9)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        r = client.post("/api/jobs", json={"molecule": {"query": "qm9:14"}, "method": "dft"})
        if r.status_code == 202:  # no DFT timings shipped: no estimate to refuse by
            pytest.skip("no DFT timings in typical.json")
        assert r.status_code == 422 and "estimated at" in r.json()["detail"]


def test_an_unknown_job_is_404(api):
    assert api.get("/api/jobs/0123456789abcdef").status_code == 404
    assert api.delete("/api/jobs/0123456789abcdef").status_code == 404
    assert api.get("/api/jobs/not-an-id").status_code == 422


def test_compare_a_qm9_molecule_sets_the_network_beside_qm9s_labels(api):
    r = api.post("/api/compare", json={"molecule": {"query": "qm9:4210"}, "methods": {"ml": {}, "qm9": {}}, "units": "meV"})
    body = r.json()
    assert r.status_code == 200, body
    assert body["reference"]["source"] == "qm9" and "QM9 4210" in body["reference"]["note"]
    assert body["energy_unit"] == "meV" and body["methods"]["ml"]["units"]["U0"] == "meV"
    assert body["methods"]["ml"]["abs_error"]["homo"] < 500  # meV
    assert body["chemical_accuracy"]["homo"] == pytest.approx(43.0) and body["chemical_accuracy"]["mu"] == 0.1
    assert body["pending"] == [] and body["failures"] == {}
    csv = api.post("/api/compare", params={"format": "csv"},
                   json={"molecule": {"query": "qm9:4210"}, "methods": {"ml": {}}, "submit": False})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("property,unit,ml,ml_sigma,reference")


def test_compare_lists_jobs_still_running_and_says_why_a_method_gave_nothing(api):
    body = api.post("/api/compare", json={"molecule": {"query": "C[Si](C)(C)C"}, "methods": {"ml": {}, "xtb": {}, "qm9": {}}}).json()
    assert body["pending"] == ["xtb"] and body["jobs"]["xtb"]["status"] == "queued"
    assert "ml" in body["failures"] and "qm9" in body["failures"]  # Si: outside the network's elements and QM9
    assert body["methods"] == {} and body["reference"]["source"] is None
    looked_up = api.post("/api/compare", json={"molecule": {"query": "CCCO"}, "methods": {"xtb": {}}, "submit": False}).json()
    assert looked_up["jobs"] == {} and looked_up["pending"] == []  # submit false starts nothing
    assert looked_up["reference"]["source"] == "qm9"  # QM9's labels are the reference before any job finished


def test_compare_puts_a_finished_job_in_the_table(jobs_api):
    body = {"molecule": {"query": "qm9:3"}, "methods": {"ml": {}, "xtb": QUICK}, "units": "meV"}
    first = jobs_api.post("/api/compare", json=body).json()
    job = first["jobs"]["xtb"]
    wait_for_job(jobs_api, job["id"])
    table = jobs_api.post("/api/compare", json={**body, "submit": False}).json()
    assert set(table["methods"]) == {"ml", "xtb"} and table["pending"] == []
    assert "U0" not in table["methods"]["xtb"]["abs_error"]  # xTB's total energies: another zero
    assert table["methods"]["xtb"]["abs_error"]["homo"] > 0


def test_a_server_stopping_gracefully_requeues_its_running_job(tmp_path, qm9, dask_client):
    app = create_app(settings_for(tmp_path), qm9=qm9, client=dask_client)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        client.folder = tmp_path
        job = client.post("/api/jobs", json={"molecule": {"query": "CCCCCCCC"}, "method": "xtb"}).json()
        _worker_pid(client, job["id"])  # running
    with sqlite3.connect(tmp_path / "web" / "jobs.sqlite") as con:  # the lifespan's end (Ctrl-C, SIGTERM)
        status, attempts, stage = con.execute("SELECT status, attempts, stage FROM jobs WHERE id = ?", (job["id"],)).fetchone()
    assert (status, attempts) == ("queued", 0) and "re-queued" in stage
    dask_client.restart()  # the cancelled task may still run on its worker: the next tests get fresh ones


@pytest.mark.parametrize("query", ["C[Se]C", "[CH3]", "[NH4+]", "C[Si](C)(C)C"])
def test_molecules_a_method_refuses_are_failures_with_reasons_not_errors(api, query):
    body = api.post("/api/compare", json={"molecule": {"query": query}, "methods": {"ml": {}, "xtb": {}, "dft": {}},
                                          "submit": False})
    assert body.status_code == 200, body.text
    failures = body.json()["failures"]
    assert "ml" in failures and "dft" in failures and "xtb" not in failures
    checks = api.post("/api/molecule", json={"query": query}).json()["methods"]
    assert checks["dft"]["refused"] and checks["xtb"]["refused"] is None


def test_a_dft_job_runs_the_qm9_protocol_in_a_worker(jobs_api):
    options = {"optimize": False, "thermo": False, "polarizability": False}  # one SCF: seconds for H2
    job = jobs_api.post("/api/jobs", json={"molecule": {"query": "[H][H]"}, "method": "dft", "options": options}).json()
    done = wait_for_job(jobs_api, job["id"], timeout=300)
    assert done["status"] == "done", done["error"]
    result = done["result"]
    assert result["method"] == "dft" and "B3LYP" in result["level_of_theory"]
    assert result["units"]["homo"] == "eV" and -20 < result["properties"]["homo"] < 0
    assert result["timings_s"]["scf"] > 0 and result["provenance"]["store_key"]
