"""The job runner: queued web jobs -> Dask worker processes, a few at a time, durable in the job store.

One thread (:meth:`JobRunner._loop`) does all the dispatching: it starts queued jobs while their
method has a free slot (``ServerSettings.slots``: 1 DFT and 2 xTB at once by default), collects
finished ones, and stops those past their time limit. The work runs on the Dask runner of
``dft batch`` (:func:`molmtl.fanout.make_client`): a LocalCluster of one process per slot, or an
existing scheduler by address, so a crash, a memory blow-up or a hung SCF takes down a worker
process, never the server. The LocalCluster's scheduler gives up on a task at the first worker
that dies running it (``allowed-failures`` 0): the job fails with that reason instead of
killing worker after worker.

A job is cancelled (or stopped at its time limit) by cancelling its task and restarting the worker
process that runs it (Dask's nanny starts a fresh one); its slot stays taken until then.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from molmtl.app.jobstore import Job, JobStore
from molmtl.app.settings import ServerSettings
from molmtl.app.tasks import TOPIC, run_job
from molmtl.fanout import close_client, make_client

log = logging.getLogger(__name__)

#: How often the dispatcher looks at the queue and the clocks when nothing wakes it (seconds).
_TICK_S = 0.5


class JobRunner:
    """Runs the job store's queued jobs on Dask workers.

    Args:
        jobs: the job store.
        settings: slots, time limits, scheduler, the results store's path.
        client: a Dask client to use (not closed by :meth:`stop`); None: one is made at
            :meth:`start` from ``settings`` and closed at :meth:`stop`.
    """

    def __init__(self, jobs: JobStore, settings: ServerSettings, *, client=None):
        self.jobs, self.settings = jobs, settings
        self._client, self._own_client = client, client is None
        self._running: dict[str, tuple[str, Any]] = {}  # job id -> (method, Dask future)
        self._stopping: dict[str, str] = {}  # job id -> method: being killed, its slot still taken
        self._finished: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Recover what a dead server left running, connect to Dask and start dispatching."""
        requeued, interrupted = self.jobs.recover(self.settings.max_attempts)
        if requeued or interrupted:
            log.warning("jobs left running by a server that stopped: %d re-queued, %d marked interrupted",
                        requeued, interrupted)
        if self._client is None:
            self._client = job_client(self.settings)
        self._client.subscribe_topic(TOPIC, self._on_event)
        self._thread = threading.Thread(target=self._loop, name="molmtl-job-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop dispatching; jobs still running go back to the queue (the next start runs them)."""
        self._halt.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            running = dict(self._running)
            self._running.clear()
        for job_id, (_, future) in running.items():
            self.jobs.requeue(job_id, "re-queued: the server stopped while it ran")
            future.cancel()
        if self._client is not None:
            try:
                self._client.unsubscribe_topic(TOPIC)
            except Exception:  # noqa: BLE001 - a scheduler already gone has no subscription to end
                pass
        if self._own_client and self._client is not None:
            close_client(self._client)
            self._client = None

    def wake(self) -> None:
        """Look at the queue now (a job was added)."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def workers(self) -> int:
        """Dask worker processes the scheduler knows."""
        try:
            return len(self._client.scheduler_info().get("workers", {})) if self._client is not None else 0
        except Exception:  # noqa: BLE001 - a scheduler that went away: health says so
            return 0

    # ------------------------------------------------------------------ requests
    def cancel(self, job_id: str, reason: str = "cancelled by the user") -> Job | None:
        """Cancel a queued or running job (a final one is left as it is); the job afterwards."""
        if self.jobs.fail(job_id, reason, status="cancelled", from_statuses=("queued",)):
            return self.jobs.get(job_id)
        if self.jobs.fail(job_id, reason, status="cancelled", from_statuses=("running",)):
            self._kill(job_id)
        return self.jobs.get(job_id)

    # ------------------------------------------------------------------ the dispatcher
    def _loop(self) -> None:
        while not self._halt.is_set():
            try:
                self._collect()
                self._enforce_time_limits()
                self._dispatch()
            except Exception:  # noqa: BLE001 - the dispatcher must outlive one bad step; it is logged
                log.exception("job runner step failed")
            self._wake.wait(_TICK_S)
            self._wake.clear()

    def _busy(self) -> dict[str, int]:
        with self._lock:
            methods = [m for m, _ in self._running.values()] + list(self._stopping.values())
        busy: dict[str, int] = {}
        for m in methods:
            busy[m] = busy.get(m, 0) + 1
        return busy

    def _dispatch(self) -> None:
        busy = self._busy()
        for job in self.jobs.with_status("queued", limit=10 * self.settings.queue_limit):
            if self._halt.is_set():
                return
            if busy.get(job.method, 0) >= self.settings.slots_of(job.method):
                continue
            molecule = self.jobs.get_molecule(job.molecule_key)
            if molecule is None:
                self.jobs.fail(job.id, "its molecule is not in the job store", from_statuses=("queued",))
                continue
            if not self.jobs.start(job.id):  # cancelled meanwhile
                continue
            store = None if self.settings.store_path is None else str(self.settings.store_path)
            future = self._client.submit(run_job, job.id, job.method, job.options, molecule, store, pure=False,
                                         key=f"molmtl-web-{job.method}-{job.id}-{job.attempts + 1}")
            with self._lock:
                self._running[job.id] = (job.method, future)
            future.add_done_callback(lambda f, job_id=job.id: self._on_done(job_id, f))
            busy[job.method] = busy.get(job.method, 0) + 1
            log.info("job %s (%s) started", job.id, job.method)

    def _on_done(self, job_id: str, future) -> None:  # in the Dask client's thread: hand over, no work here
        self._finished.put((job_id, future))
        self._wake.set()

    def _collect(self) -> None:
        while True:
            try:
                job_id, future = self._finished.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                current = self._running.get(job_id)
                if current is None or current[1] is not future:  # cancelled or stopped: already recorded
                    continue
                del self._running[job_id]
            self._record(job_id, future)

    def _record(self, job_id: str, future) -> None:
        if future.status == "finished":
            try:
                outcome = future.result(timeout=60)
            except Exception as exc:  # noqa: BLE001 - the result could not be fetched from the worker
                self.jobs.fail(job_id, f"its result could not be fetched from the worker: {type(exc).__name__}: {exc}")
                return
            if outcome.get("ok"):
                result = outcome["result"]
                self.jobs.finish(job_id, result, cached=bool(result.get("provenance", {}).get("cached")))
                log.info("job %s done", job_id)
            else:
                self.jobs.fail(job_id, outcome.get("error") or "the method gave no reason")
                log.info("job %s failed: %s", job_id, outcome.get("error"))
            return
        if future.status == "error":
            exc = future.exception()
            name = type(exc).__name__
            if name == "KilledWorker":
                reason = ("the worker process running it died (killed, out of memory, or crashed); "
                          "the server and the other jobs go on")
            else:
                reason = f"its worker failed: {name}: {exc}"
            self.jobs.fail(job_id, reason)
            log.warning("job %s: %s", job_id, reason)
            return
        self.jobs.fail(job_id, f"its task was {future.status} by the Dask scheduler")

    def _enforce_time_limits(self) -> None:
        now = time.time()
        with self._lock:
            ids = list(self._running)
        for job_id in ids:
            job = self.jobs.get(job_id)
            if job is None or job.started is None:
                continue
            limit = job.time_limit_s or self.settings.time_limit_of(job.method)
            if now - job.started > limit:
                reason = f"stopped after {limit:g} s: the time limit of {job.method} jobs on this server"
                if self.jobs.fail(job_id, reason):
                    log.warning("job %s %s", job_id, reason)
                    self._kill(job_id)

    def _kill(self, job_id: str) -> None:
        """Cancel a running job's task and restart the worker process that runs it (in the background)."""
        with self._lock:
            entry = self._running.pop(job_id, None)
            if entry is None:
                return
            method, future = entry
            self._stopping[job_id] = method
        address = None
        try:
            address = next((w for w, keys in self._client.processing().items() if future.key in keys), None)
        except Exception:  # noqa: BLE001 - the scheduler did not answer: the task is cancelled all the same
            log.warning("could not ask the scheduler where job %s runs", job_id, exc_info=True)
        future.cancel()

        def restart() -> None:
            try:
                if address is not None:
                    self._client.restart_workers([address], raise_for_error=False)
            except Exception:  # noqa: BLE001 - logged; the slot is given back all the same
                log.warning("restarting the worker of job %s failed", job_id, exc_info=True)
            finally:
                with self._lock:
                    self._stopping.pop(job_id, None)
                self._wake.set()

        threading.Thread(target=restart, name=f"molmtl-kill-{job_id}", daemon=True).start()

    def _on_event(self, event) -> None:  # in the Dask client's thread
        _, msg = event
        if isinstance(msg, dict) and msg.get("job"):
            self.jobs.progress(str(msg["job"]), str(msg.get("stage") or ""), msg.get("fraction"), msg.get("where"))


def job_client(settings: ServerSettings):
    """A client to ``settings.scheduler``, or to a new LocalCluster of one process per slot that
    fails a task at the first worker that dies running it."""
    import dask  # lazy: Dask takes seconds to import; only the job runner needs it
    import distributed  # noqa: F401  # lazy: as above; imported first so that its config keys exist

    n_workers = max(1, sum(settings.slots.values()))
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        return make_client(settings.scheduler, n_workers=n_workers, threads_per_task=1)


__all__ = ["JobRunner", "job_client"]
