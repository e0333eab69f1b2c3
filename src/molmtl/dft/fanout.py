"""Many molecules through a concurrent-futures style executor (Dask), every result in the store.

Each task runs :func:`molmtl.dft.jobs.calculate` in a worker and writes its own row, so a killed
batch keeps every finished result and a rerun resumes (finished inputs are cache hits, rows left
``running`` are redone). Failures are recorded with their reason and retried once.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from molmtl.chem.molecule import Molecule
from molmtl.chem.parse import parse_qm9_id
from molmtl.data.inputs import read_molecule
from molmtl.data.qm9 import load_qm9
from molmtl.dft.jobs import calculate, job_key
from molmtl.dft.store import ResultStore, input_key
from molmtl.errors import InputError, MolmtlError, NotFoundError
from molmtl.fanout import WorkerLost, map_tasks

log = logging.getLogger(__name__)

#: Column names (first match wins) holding the molecule in a batch CSV.
MOLECULE_COLUMNS = ("molecule", "smiles", "SMILES", "qm9_id", "xyz", "path")


@dataclass
class BatchItem:
    """One row of a batch: the text given, and the molecule or why it could not be read."""

    row: int
    text: str
    name: str
    molecule: Molecule | None = None
    error: str | None = None


@dataclass
class BatchSummary:
    """Outcome of a batch: counts and, per failed input, its reason."""

    total: int = 0
    done: int = 0
    cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # name -> reason
    keys: dict[str, str] = field(default_factory=dict)  # name -> store key


def read_batch_csv(path: str | Path, *, dataset=None) -> list[BatchItem]:
    """Read a CSV with a molecule column (SMILES, QM9 id or file path) and an optional ``name`` column.

    Rows that cannot be read become items with ``error`` set, never exceptions.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheet programs write a BOM
            return _read_batch_rows(path, csv.DictReader(f), dataset)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path} is not a readable UTF-8 CSV file: {exc}") from None


def _read_batch_rows(path: Path, reader: csv.DictReader, dataset) -> list[BatchItem]:
    column = next((c for c in MOLECULE_COLUMNS if c in (reader.fieldnames or [])), None)
    if column is None:
        raise InputError(f"{path} has no molecule column; name one of: {', '.join(MOLECULE_COLUMNS)}")
    items = []
    for i, rec in enumerate(reader, start=1):
        text = (rec.get(column) or "").strip()
        name = (rec.get("name") or "").strip() or text or f"row {i}"
        item = BatchItem(row=i, text=text, name=name)
        try:
            if not text:
                raise InputError(f"row {i} has an empty {column!r} cell")
            if dataset is None and parse_qm9_id(text) is not None and not Path(text).is_file():
                dataset = load_qm9()  # once for the whole file, not once per QM9 id
            item.molecule = replace(read_molecule(text, embed=True, dataset=dataset), name=name)
        except MolmtlError as exc:
            item.error = str(exc)
        items.append(item)
    return items


def _task(molecule: Molecule, job, store_path: str) -> tuple[str, str, str | None, bool]:
    """Worker side: ``(key, status, reason, cached)``; never raises (a batch must not crash)."""
    store = ResultStore(store_path)
    key, _ = job_key(molecule, job)
    try:
        key, _, cached = calculate(molecule, job, store)
        return key, "done", None, cached
    except MolmtlError as exc:
        return key, "failed", str(exc), False
    except Exception as exc:  # recorded by calculate(); reported, not raised
        log.exception("calculation %s crashed", key)
        return key, "failed", f"{type(exc).__name__}: {exc}", False


def run_batch(items: list[BatchItem], job, store: ResultStore, *, client=None, retries: int = 1,
              progress: Callable[[str, str], None] | None = None) -> BatchSummary:
    """Run ``job`` on every readable item; record unreadable ones as ``failed``.

    Args:
        items: from :func:`read_batch_csv` (or built by hand).
        job: a :class:`~molmtl.dft.protocol.QM9Protocol` or :class:`~molmtl.dft.jobs.XTBJob`.
        store: where every result goes.
        client: a ``distributed.Client``; None runs the tasks one after another in this process.
        retries: extra attempts for failed tasks.
        progress: called as ``progress(name, status)`` after each finished task.
    """
    summary = BatchSummary(total=len(items))
    todo: list[BatchItem] = []
    for item in items:
        if item.molecule is None:
            canonical = {"text": item.text, "method": job.method, "settings": job.settings()}
            key = input_key(canonical)
            store.fail_input(key, item.name, job.method, canonical, item.error or "unreadable input")
            summary.failed[item.name], summary.keys[item.name] = item.error or "unreadable input", key
            if progress:
                progress(item.name, "failed")
            continue
        key, _ = job_key(item.molecule, job)
        summary.keys[item.name] = key
        rec = store.get(key)
        if rec is not None and rec.status == "done":  # resume: no worker needed
            summary.done += 1
            summary.cached += 1
            if progress:
                progress(item.name, "cached")
            continue
        todo.append(item)

    for attempt in range(retries + 1):
        if not todo:
            break
        if attempt:
            log.info("retrying %d failed calculations", len(todo))
        outcomes = _execute(todo, job, str(store.path), client, progress)
        again = []
        for item, (key, status, reason, cached) in zip(todo, outcomes):
            if status == "done":
                summary.done += 1
                summary.cached += int(cached)
                summary.failed.pop(item.name, None)
            else:
                summary.failed[item.name] = reason or "failed"
                if not key:  # the worker died before reporting: record the reason here
                    key, canonical = job_key(item.molecule, job)
                    if store.get(key) is None:
                        store.start(key, item.molecule, canonical)
                    store.fail(key, reason or "failed")
                again.append(item)
        todo = again
    return summary


def _execute(items, job, store_path, client, progress):
    def finished(i, outcome):
        if progress:
            progress(items[i].name, outcome[1] if not isinstance(outcome, WorkerLost) else "failed")

    outcomes = map_tasks(_task, [(item.molecule, job, store_path) for item in items], client=client, done=finished)
    return [("", "failed", o.reason, False) if isinstance(o, WorkerLost) else o for o in outcomes]
