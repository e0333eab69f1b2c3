"""The trainings of a study: one folder per configuration, fanned out over Dask, kept on rerun.

A :class:`RunSpec` is a label and a :class:`~molmtl.config.TrainConfig`; its folder is
``<study>/runs/<label>-<hash of the config>``, so the same configuration asked for by two
commands (``transfer``'s single-task models, ``gains``' first seed, ``compare``'s single-task
column) is trained once. A finished run leaves ``relate_run.json`` (written atomically, last)
beside its ``model.pt``: its per-task MAE on the validation and test parts (display units), its
per-task validation loss and its wall time. A rerun keeps every run whose record is there and
holds the same configuration, resumes an interrupted one from its last checkpoint, and trains
the rest. Runs go to :func:`molmtl.fanout.map_tasks` (a LocalCluster or a scheduler; in this
process without a client) with a progress bar over runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from molmtl.config import TrainConfig
from molmtl.data.cache import atomic_path
from molmtl.errors import CalculationError, MolmtlError
from molmtl.fanout import WorkerLost, map_tasks
from molmtl.training.run import read_run_config, train

log = logging.getLogger(__name__)

RECORD = "relate_run.json"


@dataclass(frozen=True)
class RunSpec:
    """One training of a study: ``label`` (e.g. ``pair-U0-homo-seed0``) and its config."""

    label: str
    config: TrainConfig

    @property
    def key(self) -> str:
        """A hash of the configuration (10 hex digits)."""
        text = json.dumps(self.config.to_dict(), sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:10]

    def folder(self, study_out: str | Path) -> Path:
        return Path(study_out) / "runs" / f"{self.label}-{self.key}"


@dataclass
class RunOutcome:
    """A finished run: its folder, MAE per task on ``val`` and ``test`` (display units), units,
    validation loss per task (normalized), wall time of its training call, and whether it was
    kept from an earlier invocation."""

    label: str
    folder: Path
    val: dict[str, float]
    test: dict[str, float]
    units: dict[str, str]
    val_loss: dict[str, float]
    wall_s: float
    kept: bool = False


def read_record(folder: Path, config: TrainConfig | None = None) -> dict | None:
    """A run folder's record, or None when it has none (or, given ``config``, one of another config)."""
    path = Path(folder) / RECORD
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if config is not None and TrainConfig.from_dict(body.get("config", {})) != config:
        return None
    return body


@contextmanager
def quiet_training():
    """Run logs at WARNING while a study trains (hundreds of runs; the study logs one line per
    run), unless the root logger is at DEBUG (``molmtl -v``)."""
    root = logging.getLogger()
    names = ("", "lightning", "lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero")
    old = {name: logging.getLogger(name).level for name in names}
    if root.level > logging.DEBUG:  # Lightning's own loggers too: a Dask worker's root has no handler of its own
        for name in names:
            logging.getLogger(name).setLevel(max(old[name], logging.WARNING))
    try:
        yield
    finally:
        for name, level in old.items():
            logging.getLogger(name).setLevel(level)


def train_one(config_dict: dict, folder: str, threads: int = 1) -> dict:
    """Train one run into ``folder`` (resuming it when it holds this config's checkpoint) and
    write its record; returns the record, or ``{"error": sentence}``. A top-level function, so
    Dask can ship it to a worker."""
    torch.set_num_threads(max(1, int(threads)))
    config = TrainConfig.from_dict(config_dict)
    out = Path(folder)
    try:
        resume = (out / "checkpoints" / "last.ckpt").is_file() and read_run_config(out) == config
    except MolmtlError:
        resume = False
    start = time.perf_counter()
    try:
        with quiet_training():
            result = train(config, out, progress=False, resume=resume, overwrite=not resume)
    except MolmtlError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one failed run must not stop a fan-out of hundreds
        return {"error": f"{type(exc).__name__}: {exc}"}
    wall = time.perf_counter() - start
    metrics = result.metrics
    record = {
        "config": config.to_dict(),
        "wall_s": wall,
        "resumed": resume,
        "epochs": metrics.get("epochs"),
        "val": {r["key"]: r["mae"] for r in metrics.get("val", [])},
        "test": {r["key"]: r["mae"] for r in metrics.get("test", [])},
        "units": {r["key"]: r["unit"] for r in metrics.get("test", metrics.get("val", []))},
        "val_loss_per_task": metrics.get("val_loss_per_task", {}),
    }
    with atomic_path(out / RECORD) as tmp:
        tmp.write_text(json.dumps(record, indent=2))
    return record


def _outcome(spec: RunSpec, folder: Path, record: dict, kept: bool) -> RunOutcome:
    return RunOutcome(spec.label, folder, record["val"], record["test"], record["units"],
                      record["val_loss_per_task"], float(record["wall_s"]), kept)


def train_runs(specs: Sequence[RunSpec], study_out: str | Path, *, client=None, threads: int = 1,
               progress: bool = True, desc: str = "runs") -> dict[str, RunOutcome]:
    """Every run of ``specs`` finished: kept when its record is there, else trained (fanned out
    over ``client``'s workers, or here one after another). Returns ``label -> RunOutcome``.

    CalculationError after all of them were tried if any failed (the finished ones are kept,
    so a rerun retries only those).
    """
    specs = list({s.label: s for s in specs}.values())
    outcomes: dict[str, RunOutcome] = {}
    todo = []
    for spec in specs:
        folder = spec.folder(study_out)
        record = read_record(folder, spec.config)
        if record is not None:
            outcomes[spec.label] = _outcome(spec, folder, record, kept=True)
        else:
            todo.append((spec, folder))
    if outcomes:
        log.info("%s: %d of %d runs finished earlier, kept", desc, len(outcomes), len(specs))
    if not todo:
        return outcomes
    log.info("%s: training %d runs%s", desc, len(todo), " on the Dask cluster" if client is not None else "")
    failures: list[tuple[str, str]] = []
    bar = tqdm(total=len(specs), initial=len(outcomes), desc=desc, unit="run", disable=not progress, leave=False)
    started = time.perf_counter()

    def done(i: int, record) -> None:
        spec, folder = todo[i]
        if isinstance(record, WorkerLost) or "error" in record:
            reason = record.reason if isinstance(record, WorkerLost) else record["error"]
            failures.append((spec.label, reason))
            log.warning("%s: run %s failed: %s", desc, spec.label, reason)
        else:
            outcomes[spec.label] = _outcome(spec, folder, record, kept=False)
            log.info("%s: %s done in %.1f s (%d/%d; %.0f s so far)", desc, spec.label, record["wall_s"],
                     len(outcomes), len(specs), time.perf_counter() - started)
        bar.update(1)

    try:
        map_tasks(train_one, [(s.config.to_dict(), str(f), threads) for s, f in todo], client=client, done=done)
    finally:
        bar.close()
    if failures:
        label, reason = failures[0]
        raise CalculationError(f"{len(failures)} of {len(specs)} {desc} runs failed (the first, {label}: {reason}); "
                               "the finished ones are kept: rerun the command to retry the others")
    return outcomes


__all__ = ["RECORD", "RunOutcome", "RunSpec", "quiet_training", "read_record", "train_one", "train_runs"]
