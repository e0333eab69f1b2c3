"""Jobs: ``POST /api/jobs`` (xTB or DFT on a molecule), ``GET /api/jobs/{id}``, ``DELETE /api/jobs/{id}``,
``GET /api/jobs`` (the newest)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Response

from molmtl.app import resolve, submit
from molmtl.app.resources import Resources, get_resources
from molmtl.app.schemas import JobBody, JobRequest, Problem
from molmtl.errors import NotFoundError

router = APIRouter(tags=["jobs"])
JOB_ID = Path(..., pattern=r"^[0-9a-f]{16}$", description="the id POST /api/jobs gave")


@router.post("/api/jobs", response_model=JobBody, status_code=202,
             responses={200: {"model": JobBody, "description": "the same request's job, or its stored result"},
                        404: {"model": Problem}, 422: {"description": "a molecule the method refuses, or a bad body"},
                        429: {"model": Problem, "description": "the queue is full (see Retry-After)"}},
             summary="Run xTB or DFT as a job")
def create_job(body: JobRequest, response: Response, res: Resources = Depends(get_resources)) -> dict:
    """Queue ``method`` with ``options`` on the molecule (202). The same molecule, method and
    options give the same job back (200): the stored result at once when it is done, the running
    job while it runs. A failed, cancelled or interrupted job is retried as a new one."""
    mol, molecule_id = resolve.resolve(body.molecule, res)
    name, options, method = submit.job_method(body.method, body.options, mol, res)
    job, created = submit.submit(name, options, method, mol, molecule_id, res)
    if not created or job.final:
        response.status_code = 200
    return submit.job_json(job, res)


@router.get("/api/jobs", response_model=list[JobBody], summary="The newest jobs")
def list_jobs(limit: int = Query(20, ge=1, le=200), res: Resources = Depends(get_resources)) -> list[dict]:
    return [submit.job_json(j, res) for j in res.jobs.recent(limit)]


@router.get("/api/jobs/{job_id}", response_model=JobBody, responses={404: {"model": Problem}}, summary="A job")
def get_job(job_id: str = JOB_ID, res: Resources = Depends(get_resources)) -> dict:
    """The job's state, stage (``SCF``, ``optimization step 3``, ``Hessian``...) and fraction,
    elapsed and estimated seconds, and its result (the result schema) once done."""
    job = res.jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id} on this server")
    return submit.job_json(job, res)


@router.delete("/api/jobs/{job_id}", response_model=JobBody, responses={404: {"model": Problem}}, summary="Cancel a job")
def cancel_job(job_id: str = JOB_ID, res: Resources = Depends(get_resources)) -> dict:
    """Cancel a queued or running job (its worker process is restarted); a finished job is left as it is."""
    job = res.runner.cancel(job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id} on this server")
    return submit.job_json(job, res)
