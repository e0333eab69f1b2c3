"""``GET /api/health``: is the server up, and how are its jobs."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends

from molmtl import __version__
from molmtl.app.jobstore import STATUSES
from molmtl.app.resources import Resources, get_resources
from molmtl.app.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=Health, summary="The server's state")
def health(res: Resources = Depends(get_resources)) -> dict:
    """Version, QM9's size, Dask worker processes, jobs per state, the queue's limit.

    ``degraded`` when jobs are to run but the runner or its workers are gone.
    """
    counts = {s: res.jobs.count(s) for s in STATUSES}
    workers = res.runner.workers()
    ok = not res.settings.start_workers or (res.runner.alive and workers > 0)
    return {"status": "ok" if ok else "degraded", "version": __version__, "qm9_molecules": len(res.qm9),
            "workers": workers, "jobs": counts, "queue_limit": res.settings.queue_limit,
            "uptime_s": time.time() - res.started}
