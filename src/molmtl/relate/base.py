"""The contract of a relatedness measure, and the study folder every ``relate`` command shares.

A *study* is one folder (``--out``) and one training budget (a :class:`~molmtl.config.TrainConfig`
whose ``tasks`` are the tasks studied). Each command writes its own subfolder (``correlation/``,
``transfer/``, ``tag/``, ``gains/``, ``evaluate/``, ``compare/``); every training any of them
runs lives under ``runs/``, in a folder named after its configuration, so that commands on the
same budget share runs (the single-task models of ``transfer`` are ``gains``' first seed and
``compare``'s single-task column) and a rerun keeps every finished one.

A :class:`Measure` turns the study into a ``T x T`` score matrix :math:`S` oriented one way for
all measures: :math:`S_{ij}` is how much task :math:`j` is expected to help task :math:`i`
(higher: more), so that ``relate evaluate`` can rank all of them against the measured gains
:math:`G_{ij}` (the gain of task :math:`i` when trained with :math:`j`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from molmtl.config import TrainConfig
from molmtl.data.cache import atomic_path
from molmtl.errors import InputError, NotFoundError


@dataclass
class Study:
    """Where a study lives and what it trains.

    Attributes:
        out: the study folder.
        config: the training budget; ``config.tasks`` are the tasks studied.
        client: a Dask client for the fan-outs (None: one run after another in this process).
        threads: torch threads per training.
        progress: show progress bars.
    """

    out: Path
    config: TrainConfig
    client: Any = None
    threads: int = 1
    progress: bool = True

    def __post_init__(self):
        self.out = Path(self.out)
        if len(self.config.tasks) < 2:
            raise InputError("a relatedness study needs at least two tasks (--tasks)")

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.config.tasks)

    def folder(self, name: str) -> Path:
        path = self.out / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class Scores:
    """One measure's score matrix, read back from its folder.

    Attributes:
        label: the name tables show (``correlation (|Pearson|)``, ``transfer``...).
        tasks: row and column order.
        matrix: ``(T, T)``; ``matrix[i, j]``: how much task j is expected to help task i.
        wall_s: what computing it cost, in seconds of wall time (trainings it needed included).
    """

    label: str
    tasks: tuple[str, ...]
    matrix: np.ndarray
    wall_s: float


@dataclass
class MeasureResult:
    """What a measure's ``compute`` wrote: its matrices, grouping and cost."""

    tasks: tuple[str, ...]
    matrices: dict[str, np.ndarray]
    groups: list[list[str]]
    wall_s: float
    files: list[Path] = field(default_factory=list)
    info: dict = field(default_factory=dict)


class Measure:
    """Base class of relatedness measures (registered in :data:`molmtl.relate.registry.RELATEDNESS`).

    Subclasses set ``folder`` (their subfolder of the study) and implement :meth:`compute` (run
    it, resuming what is there, and write CSV, PNG, ``groups.json`` and ``summary.json``) and
    :meth:`scores` (read those back as :class:`Scores`).
    """

    folder: str = ""

    def compute(self, study: Study) -> MeasureResult:  # pragma: no cover - interface
        raise NotImplementedError

    def scores(self, out: Path) -> list[Scores]:  # pragma: no cover - interface
        raise NotImplementedError

    def summary(self, out: Path) -> dict:
        """The measure's ``summary.json`` in study folder ``out``; NotFoundError naming the command."""
        path = Path(out) / self.folder / "summary.json"
        if not path.is_file():
            raise NotFoundError(f"{path} does not exist: run 'molmtl relate {self.folder} --out {out}' first")
        return json.loads(path.read_text())


def write_summary(folder: Path, body: dict) -> Path:
    """``summary.json`` of a command's folder, written atomically."""
    path = Path(folder) / "summary.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(body, indent=2, default=_plain))
    return path


def _plain(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


__all__ = ["Measure", "MeasureResult", "Scores", "Study", "write_summary"]
