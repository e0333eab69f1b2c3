"""What a Dask worker process runs for a web job: one method on one molecule.

:func:`run_job` is a top-level function (Dask pickles it by reference). It builds the method from
its registry name and options with the results store, runs it, and returns ``{"ok": True,
"result": ...}`` or ``{"ok": False, "error": sentence}``: a bad molecule or a failed SCF is an
outcome, not an exception. Progress goes back to the server as Dask events on :data:`TOPIC`
(``stage``, ``fraction``, and in ``where`` the worker's address and process id; Dask sets
``worker`` itself), at most a few a second.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from molmtl.app.stored import molecule_from_json
from molmtl.dft.store import ResultStore
from molmtl.errors import MolmtlError
from molmtl.methods.registry import METHODS

log = logging.getLogger(__name__)

#: The Dask event topic of job progress.
TOPIC = "molmtl-web-job"
#: Progress within one stage is sent at most this often (seconds); a new stage always is.
_MIN_INTERVAL_S = 0.5


def run_job(job_id: str, method: str, options: dict[str, Any], molecule: dict[str, Any],
            store_path: str | None) -> dict[str, Any]:
    """Run ``method`` (with ``options``) on ``molecule`` (``molecule_to_json``), through the results
    store at ``store_path`` (None: the worker's default store)."""
    report = _reporter(job_id)
    report("starting", None)
    try:
        mol = molecule_from_json(molecule)
        built = METHODS.build(method, store=ResultStore(store_path), **options)
        result = built.run(mol, progress=report)
    except MolmtlError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a bug: its reason goes to the job, its traceback to the worker's log
        log.exception("web job %s (%s) failed", job_id, method)
        return {"ok": False, "error": f"{method} failed: {type(exc).__name__}: {exc}"}
    return {"ok": True, "result": result.to_json()}


def _reporter(job_id: str):
    """A progress callback that sends Dask events (nothing outside a Dask worker)."""
    try:
        from distributed import (
            get_worker,  # lazy: Dask takes seconds to import; only workers need it
        )

        worker = get_worker()
    except (ImportError, ValueError):  # not in a Dask worker (a direct call)
        worker = None
    where = None if worker is None else f"{worker.address} pid {os.getpid()}"
    last = {"stage": None, "t": 0.0}

    def report(stage: str, fraction: float | None = None) -> None:
        now = time.monotonic()
        if worker is None or (stage == last["stage"] and now - last["t"] < _MIN_INTERVAL_S):
            return
        last["stage"], last["t"] = stage, now
        worker.log_event(TOPIC, {"job": job_id, "stage": str(stage), "fraction": fraction, "where": where,
                                 "pid": os.getpid()})

    return report


__all__ = ["run_job", "TOPIC"]
