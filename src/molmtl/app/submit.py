"""Jobs from requests: the same molecule, method and options find the same job (or the stored
result at once); a new one is queued unless the queue is full (429 with Retry-After)."""

from __future__ import annotations

import math
import time
from typing import Any

from molmtl.app import catalogue
from molmtl.app.errors import QueueFull
from molmtl.app.jobstore import REUSED, Job, job_key
from molmtl.app.resources import Resources
from molmtl.chem.molecule import Molecule
from molmtl.dft.jobs import job_key as calculation_key
from molmtl.errors import InputError, MolmtlError
from molmtl.methods.base import Method
from molmtl.methods.registry import METHODS


def job_method(name: str, options: dict[str, Any] | None, mol: Molecule, res: Resources) -> tuple[str, dict, Method]:
    """``(method name, full options, method)`` of a job request; InputError when the method does
    not run as a job or refuses the molecule."""
    canonical = METHODS.canonical(name)
    if not catalogue.runs_as_job(canonical):
        raise InputError(f"method {canonical!r} answers in the request, not as a job: use POST /api/predict or /api/compare")
    full = catalogue.resolve_options(canonical, options)
    method = catalogue.build(canonical, full, store=res.store)
    _, why = catalogue.assess(method, mol, max_dft_minutes=res.settings.max_dft_minutes)
    if why is not None:
        raise InputError(why)
    return canonical, full, method


def existing(name: str, options: dict, molecule_id: str, res: Resources, *, any_status: bool = False) -> Job | None:
    """The newest job for this method, options and molecule: queued, running or done (or, with
    ``any_status``, also failed, cancelled or interrupted)."""
    key = job_key(name, options, molecule_id)
    return res.jobs.latest(key) if any_status else res.jobs.latest(key, REUSED)


def submit(name: str, options: dict, method: Method, mol: Molecule, molecule_id: str, res: Resources) -> tuple[Job, bool]:
    """``(job, created)``: the existing job for this request, a job done at once from the results
    store, or a new queued job."""
    job = existing(name, options, molecule_id, res)
    if job is not None:
        return job, False
    key = job_key(name, options, molecule_id)
    estimate = catalogue.estimate_s(method, mol)
    limit = res.settings.time_limit_of(name)
    stored = _from_results_store(method, mol, res)
    if stored is not None:
        return res.jobs.create(key=key, method=name, options=options, molecule_key=molecule_id, estimate_s=estimate,
                               time_limit_s=limit, result=stored), True
    queued = res.jobs.with_status("queued", limit=res.settings.queue_limit + 1)
    if len(queued) >= res.settings.queue_limit:
        wait = sum(j.estimate_s or 60.0 for j in queued) / max(1, sum(res.settings.slots.values()))
        retry = int(min(3600, max(5, math.ceil(wait))))
        raise QueueFull(f"the job queue is full ({res.settings.queue_limit} jobs wait); try again in about {retry} s",
                        retry)
    job = res.jobs.create(key=key, method=name, options=options, molecule_key=molecule_id, estimate_s=estimate,
                          time_limit_s=limit)
    res.runner.wake()
    return job, True


def _from_results_store(method: Method, mol: Molecule, res: Resources) -> dict | None:
    """The result at once when the results store holds this calculation (a job or ``molmtl dft`` ran it)."""
    calc = getattr(method, "job", None) or getattr(method, "protocol", None)  # XTBMethod.job, DFTMethod.protocol
    if calc is None:
        return None
    try:
        key, _ = calculation_key(mol, calc)
    except (MolmtlError, ValueError):
        return None
    record = res.store.get(key)
    if record is None or record.status != "done":
        return None
    return method.run(mol).to_json()  # a cache hit: milliseconds, nothing computed


def job_json(job: Job, res: Resources, *, molecule: dict | None = None) -> dict[str, Any]:
    """The API's view of a job."""
    mol = molecule if molecule is not None else (res.jobs.get_molecule(job.molecule_key) or {})
    position = None
    if job.status == "queued":
        ids = [j.id for j in res.jobs.with_status("queued", limit=10 * res.settings.queue_limit)]
        position = ids.index(job.id) + 1 if job.id in ids else None
    return {"id": job.id, "method": job.method, "options": job.options, "molecule_id": job.molecule_key,
            "molecule": {k: mol.get(k) for k in ("name", "smiles", "source", "qm9_index")},
            "status": job.status, "stage": job.stage, "fraction": job.fraction, "estimate_s": job.estimate_s,
            "elapsed_s": job.elapsed_s(time.time()), "time_limit_s": job.time_limit_s, "attempts": job.attempts,
            "error": job.error, "cached": job.cached, "created": job.created, "started": job.started,
            "finished": job.finished, "result": job.result, "queue_position": position,
            "links": {"self": f"/api/jobs/{job.id}", "page": f"/jobs/{job.id}"}}


__all__ = ["job_method", "existing", "submit", "job_json"]
