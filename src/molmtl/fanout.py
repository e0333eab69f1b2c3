"""Independent tasks fanned out over processes with Dask: a LocalCluster by default, or an
existing scheduler (``dask-jobqueue`` on SLURM, another machine) by its address.

Used by ``dft batch``, the methods benchmark, the web server's jobs and ``relate``'s trainings.
A task is a picklable top-level function; it should return its outcome rather than raise (a
batch must not stop for one molecule); a worker that dies (killed, out of memory) gives a
:class:`WorkerLost` in its slot instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerLost:
    """The outcome of a task whose worker process died before it reported."""

    reason: str


def make_client(scheduler: str | None = None, *, n_workers: int = 1, threads_per_task: int = 1):
    """A Dask client: to ``scheduler`` (an address) or to a new LocalCluster of ``n_workers``
    processes with ``threads_per_task`` OpenMP threads each."""
    from distributed import (  # lazy: Dask takes seconds to import; only fan-outs need it
        Client,
        LocalCluster,
    )

    if scheduler:
        return Client(scheduler)
    # The dashboard on loopback and any free port: two clusters never clash, nothing is exposed.
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                           env={"OMP_NUM_THREADS": str(threads_per_task)})
    return Client(cluster)


def close_client(client) -> None:
    """Close a client and the LocalCluster it made, if it made one."""
    if client is None:
        return
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def map_tasks(fn: Callable, argument_lists: Sequence[tuple], *, client=None,
              done: Callable[[int, Any], None] | None = None) -> list[Any]:
    """``[fn(*args) for args in argument_lists]``, on ``client``'s workers when given (in this
    process, one after another, when None), in input order; ``done(i, outcome)`` after each
    finished task, in the order they finish."""
    if client is None:
        out = []
        for i, args in enumerate(argument_lists):
            out.append(fn(*args))
            if done:
                done(i, out[-1])
        return out
    from distributed import as_completed  # lazy: see make_client

    futures = {client.submit(fn, *args, pure=False): i for i, args in enumerate(argument_lists)}
    out: list[Any] = [None] * len(argument_lists)
    for fut in as_completed(futures):
        i = futures[fut]
        try:
            out[i] = fut.result()
        except Exception as exc:  # noqa: BLE001 - the worker died (killed, out of memory): one more outcome
            out[i] = WorkerLost(f"worker lost: {type(exc).__name__}: {exc}")
        if done:
            done(i, out[i])
    return out


__all__ = ["make_client", "close_client", "map_tasks", "WorkerLost"]
