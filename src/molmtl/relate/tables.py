"""Matrices and groupings on disk: labelled CSV (units in the header), Markdown, grouping JSON.

A task matrix CSV has a first column ``task [-]`` (or another header) naming the row's task and
one column per task; :func:`read_matrix` reads what :func:`write_matrix` wrote. Groupings are
written as JSON lists of lists of task keys, the format ``train --strategy clustered --groups``
and ``--tasks FILE[:N]`` read (:mod:`molmtl.mtl.grouping`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtl.data.cache import atomic_path
from molmtl.errors import InputError, NotFoundError
from molmtl.mtl.grouping import check_grouping


def write_matrix(path: str | Path, matrix, tasks: Sequence[str], *, corner: str = "task [-]", digits: int = 6) -> Path:
    """``matrix`` (rows and columns in ``tasks`` order) as a labelled CSV, atomically."""
    path = Path(path)
    m = np.asarray(matrix, dtype=float)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([corner, *tasks])
        for task, row in zip(tasks, m):
            w.writerow([task, *("" if not np.isfinite(v) else f"{v:.{digits}g}" for v in row)])
    return path


def read_matrix(path: str | Path) -> tuple[tuple[str, ...], np.ndarray]:
    """The tasks and matrix of a CSV :func:`write_matrix` wrote (blank cells: NaN)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path} does not exist")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        raise InputError(f"{path} holds no matrix")
    tasks = tuple(rows[0][1:])
    if [r[0] for r in rows[1:]] != list(tasks):
        raise InputError(f"{path}: its rows and columns name different tasks")
    matrix = np.array([[float(v) if v.strip() else np.nan for v in r[1:]] for r in rows[1:]], dtype=float)
    return tasks, matrix


def markdown_matrix(matrix, tasks: Sequence[str], *, corner: str = "[-]", fmt: str = "{:.3g}") -> str:
    """A Markdown table of a task matrix."""
    m = np.asarray(matrix, dtype=float)
    lines = ["| " + corner + " | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    for task, row in zip(tasks, m):
        lines.append(f"| {task} | " + " | ".join("-" if not np.isfinite(v) else fmt.format(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def checked_grouping(groups: Sequence[Sequence[str]], tasks: Sequence[str] | None = None, *,
                     source: str = "the grouping") -> list[list[str]]:
    """``groups`` checked to partition ``tasks``: QM9 keys as
    :func:`molmtl.mtl.grouping.check_grouping` spells them, a CSV's own columns as given."""
    flat = [k for g in groups for k in g]
    if not groups or any(len(g) == 0 for g in groups) or len(set(flat)) != len(flat):
        raise InputError(f"{source} needs at least one group, no empty group and no task twice")
    try:
        return check_grouping(groups, tasks)
    except InputError:
        if tasks is not None and sorted(flat) != sorted(tasks):
            missing = [t for t in tasks if t not in flat]
            extra = [k for k in flat if k not in tasks]
            raise InputError(f"{source} must cover the study's tasks exactly once (missing: {', '.join(missing) or 'none'};"
                             f" not a task of the study: {', '.join(extra) or 'none'})") from None
        if all(k in (tasks or ()) for k in flat):  # a user's CSV columns, not QM9 keys: kept as they are
            return [list(g) for g in groups]
        raise


def write_grouping(path: str | Path, groups: Sequence[Sequence[str]], tasks: Sequence[str] | None = None) -> Path:
    """A grouping as JSON (a list of lists of task keys), checked to partition ``tasks``."""
    groups = checked_grouping(groups, tasks)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("[\n" + ",\n".join("  " + json.dumps(g) for g in groups) + "\n]\n")
    return path


def groups_text(groups: Sequence[Sequence[str]]) -> str:
    """``(B, C), (A), (homo)``: a grouping in one line."""
    return ", ".join("(" + ", ".join(g) + ")" for g in groups)


__all__ = ["checked_grouping", "groups_text", "markdown_matrix", "read_matrix", "write_grouping", "write_matrix"]
