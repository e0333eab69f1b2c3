"""What a server holds for its lifetime, made once in the lifespan and injected with ``Depends``:
QM9, the network (its models loaded once), the results store, the job store and the job runner.
Tests build the application with their own (a small job store in a temporary folder, a shared
Dask client, a runner that does not start)."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from fastapi import Request

from molmtl.app import catalogue
from molmtl.app.jobstore import JobStore
from molmtl.app.settings import ServerSettings
from molmtl.app.workers import JobRunner
from molmtl.config import TrainConfig
from molmtl.data.qm9 import QM9, load_qm9
from molmtl.dft.store import ResultStore
from molmtl.methods import ml as ml_method
from molmtl.methods.base import Method

log = logging.getLogger(__name__)


@dataclass
class Resources:
    """The server's long-lived objects.

    Attributes:
        test_rows: QM9 rows of the standard split's test part (the page's "random test molecule").
    """

    settings: ServerSettings
    qm9: QM9
    jobs: JobStore
    store: ResultStore
    network: Method
    runner: JobRunner
    test_rows: np.ndarray
    started: float = field(default_factory=time.time)
    #: Network predictions that run at once (one per core): the request threads share one process,
    #: and twenty of them interleaving small torch and RDKit calls under the GIL ran at a third of
    #: the throughput (benchmarks/load_predict.py).
    network_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(max(1, os.cpu_count() or 1)))

    def close(self) -> None:
        self.runner.stop()


def build_resources(settings: ServerSettings, *, qm9: QM9 | None = None, client=None) -> Resources:
    """Load QM9 and the network's models, open the stores and start the job runner."""
    torch.set_num_threads(1)  # requests run in threads of their own; two OpenMP threads each fight on 2 cores
    t0 = time.perf_counter()
    qm9 = qm9 if qm9 is not None else load_qm9()
    for source in ("smiles", "qm9"):  # both shipped models, once per server
        ml_method.load(source=source)
    network = catalogue.build("ml", catalogue.resolve_options("ml", {}), qm9=qm9)
    test_rows = np.asarray(TrainConfig().split_for(len(qm9), qm9.canonical_smiles).test)
    jobs = JobStore(settings.jobs_path)
    store = ResultStore(settings.store_path)
    runner = JobRunner(jobs, settings, client=client)
    if settings.start_workers:
        runner.start()
    log.info("ready in %.1f s: QM9 (%d molecules), the network's models, jobs in %s", time.perf_counter() - t0,
             len(qm9), settings.jobs_path)
    return Resources(settings, qm9, jobs, store, network, runner, test_rows)


def get_resources(request: Request) -> Resources:
    """The application's resources (a FastAPI dependency)."""
    return request.app.state.resources


__all__ = ["Resources", "build_resources", "get_resources"]
