r"""TAG: inter-task affinities from one multi-task run (Fifty et al., NeurIPS 2021), and the
gradient cosines measured in the same run (:mod:`molmtl.relate.affinity` has the formulas).

``relate tag`` trains the study's tasks with hard sharing on the budget (its own loop:
:math:`\sum_i L_i`, AdamW, the cosine schedule) and writes ``tag/``: ``tag.csv`` (row :math:`j`,
column :math:`i`: :math:`\bar Z_{i \to j}` [-]), ``gradient_cosine.csv``, their heatmaps, and the
groupings of highest total affinity (:func:`molmtl.relate.cluster.best_partition`, Fifty et
al.'s network selection restricted to partitions): ``groups.json`` for TAG,
``gradient_cosine_groups.json`` for the cosines. The run keeps a checkpoint after every epoch and
a rerun continues it; a finished run is kept (``--groups K`` only regroups). The score ``relate
evaluate`` ranks is :math:`S_{ij} = \bar Z_{j \to i}` (what a step on :math:`j` gives :math:`i`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from molmtl.data.batching import make_collate
from molmtl.data.cache import atomic_path
from molmtl.errors import InputError
from molmtl.inference import build_strategy, encoder_class
from molmtl.relate.affinity import affinity_training
from molmtl.relate.base import Measure, MeasureResult, Scores, Study, write_summary
from molmtl.relate.cluster import best_partition, check_k
from molmtl.relate.heads import FitSettings
from molmtl.relate.plots import heatmaps
from molmtl.relate.registry import RELATEDNESS
from molmtl.relate.tables import groups_text, read_matrix, write_grouping, write_matrix
from molmtl.relate.transfer import compute_device
from molmtl.training.data import fit_scaler, load_training_data
from molmtl.training.datamodule import EpochRandomSampler

log = logging.getLogger(__name__)

FOLDER = "tag"


def check_tag_options(every: int, lookahead_lr: float | None) -> None:
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InputError(f"--every must be a whole number >= 1, got {every!r}")
    if lookahead_lr is not None and not (lookahead_lr > 0 and math.isfinite(lookahead_lr)):
        raise InputError(f"--lookahead-lr must be a positive number, got {lookahead_lr!r}")


def affinity_run(study: Study, *, every: int = 1, lookahead_lr: float | None = None) -> dict:
    """The study's measuring run (kept when finished with these settings, continued when
    interrupted): writes ``tag.csv``, ``gradient_cosine.csv`` and ``run.json`` and returns the
    latter (matrices as lists, timings)."""
    check_tag_options(every, lookahead_lr)
    config = study.config.replace(strategy="hard", strategy_hp={})
    out = study.folder(FOLDER)
    key = {"config": config.to_dict(), "every": every, "lookahead_lr": lookahead_lr}
    done = out / "run.json"
    if done.is_file():
        body = json.loads(done.read_text())
        if body.get("key") == key:
            log.info("tag: the measuring run finished earlier, kept (%s)", done)
            return body
    enc = encoder_class(config)
    data = load_training_data(config, graph=enc.needs_graph, geometry=enc.needs_geometry)
    scaler = fit_scaler(data.train, data.targets, config.normalization, config.max_z)
    torch.manual_seed(config.seed)
    strategy = build_strategy(config)
    device = compute_device(config)
    scaler = scaler.to(device)
    sampler = EpochRandomSampler(data.train, seed=config.seed)
    loader = DataLoader(data.train, batch_size=config.batch_size, sampler=sampler,
                        collate_fn=make_collate(graph=enc.needs_graph, geometry=enc.needs_geometry))

    def batches(epoch: int):
        sampler.set_epoch(epoch)
        return iter(loader)

    fit = FitSettings.from_config(config)
    log.info("tag: %d tasks, %d training molecules, %d epochs, measuring every %d step(s)", len(config.tasks),
             len(data.train), fit.epochs, every)
    stats = affinity_training(strategy, batches, scaler.normalize, fit, steps_per_epoch=len(loader), every=every,
                              lookahead_lr=lookahead_lr, device=device, checkpoint=out / "checkpoint.pt", key=key,
                              progress=study.progress)
    tasks = study.tasks
    write_matrix(out / "tag.csv", stats.tag, tasks, corner="Z_i->j: row j's relative loss drop after a step on column i [-]")
    write_matrix(out / "gradient_cosine.csv", stats.cosine, tasks, corner="cosine of the task gradients [-]")
    body = {"key": key, "tasks": tasks, "measured_steps": stats.measured_steps, "times": stats.times,
            "molecules": len(data.train), "device": device}
    with atomic_path(done) as tmp:
        tmp.write_text(json.dumps(body, indent=2))
    return body


@RELATEDNESS.register("tag")
class TagMeasure(Measure):
    """TAG inter-task affinity (Fifty et al. 2021) from one hard-sharing run; groups of highest total affinity.

    Args:
        groups (int | None): number of groups (default: the number of highest total affinity).
        every (int): measure every N-th training step.
        lookahead_lr (float | None): learning rate of the lookahead step (default: the run's current one).
    """

    folder = FOLDER
    matrix_file, groups_file, label = "tag.csv", "groups.json", "TAG Z_j->i"

    def __init__(self, groups: int | None = None, every: int = 1, lookahead_lr: float | None = None):
        check_tag_options(every, lookahead_lr)
        self.k, self.every, self.lookahead_lr = groups, every, lookahead_lr

    def wall(self, times: dict) -> float:
        """What this measure cost: the whole measuring run."""
        return float(times["train_s"])

    def compute(self, study: Study) -> MeasureResult:
        check_k(self.k, len(study.tasks))
        start = time.perf_counter()
        run = affinity_run(study, every=self.every, lookahead_lr=self.lookahead_lr)
        out = study.folder(FOLDER)
        tasks = study.tasks
        _, tag = read_matrix(out / "tag.csv")
        _, cosine = read_matrix(out / "gradient_cosine.csv")
        groups, info = best_partition(tag, tasks, self.k)
        cos_groups, cos_info = best_partition(cosine, tasks, self.k)
        files = [heatmaps(out / "tag.png", [("TAG affinity, row j after a step on column i", tag)], tasks,
                          label="mean Z_i->j [-]", ylabel="task j (loss measured)", xlabel="task i (lookahead step)"),
                 heatmaps(out / "gradient_cosine.png", [("cosine of task gradients on the shared encoder", cosine)],
                          tasks, label="mean cosine [-]", vmin=-1, vmax=1),
                 write_grouping(out / "groups.json", groups, tasks),
                 write_grouping(out / "gradient_cosine_groups.json", cos_groups, tasks)]
        times = run["times"]
        write_summary(out, {"tasks": tasks, "every": self.every, "lookahead_lr": self.lookahead_lr,
                            "measured_steps": run["measured_steps"], "molecules": run["molecules"], "times": times,
                            "wall_s": float(times["train_s"]), "tag_wall_s": float(times["train_s"]),
                            "cosine_wall_s": float(times["train_s"] - times["lookahead_s"]),
                            "command_wall_s": time.perf_counter() - start, "groups": groups, "grouping": info,
                            "cosine_groups": cos_groups, "cosine_grouping": cos_info,
                            "config": run["key"]["config"]})
        log.info("tag: groups %s; gradient-cosine groups %s", groups_text(groups), groups_text(cos_groups))
        return MeasureResult(tasks, {"tag": tag, "gradient_cosine": cosine}, groups, self.wall(times), files,
                             {"cosine_groups": cos_groups, "times": times, **info})

    def scores(self, out: Path) -> list[Scores]:
        summary = self.summary(out)
        tasks, m = read_matrix(Path(out) / FOLDER / self.matrix_file)
        key = "tag_wall_s" if self.matrix_file == "tag.csv" else "cosine_wall_s"
        return [Scores(self.label, tasks, np.asarray(m), float(summary[key]))]


__all__ = ["FOLDER", "TagMeasure", "affinity_run", "check_tag_options"]
