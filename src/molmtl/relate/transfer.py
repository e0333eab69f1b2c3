r"""Cross-task transfer: how well one task's encoder serves another (Zamir et al. 2018's
"Taskonomy" transfer, as Standley et al. 2020 used it to choose task groupings).

One single-task model per task :math:`j` is trained on the study's budget (the same runs as
``gains``' first seed). Each encoder is frozen and its atom features computed once; a fresh head
per task :math:`i` is fitted on them (all heads together, the run's optimizer settings,
:mod:`molmtl.relate.heads`), and so on :math:`i`'s own frozen encoder as well. With
:math:`L_i(E_j)` the validation loss (normalized units, the run's loss) of task :math:`i` read
from encoder :math:`j`, the transfer coefficient is

.. math::
    C_{ij} = \frac{L_i(E_j)}{L_i(E_i)} \quad [-],

1 on the diagonal, below 1 when :math:`j`'s encoder serves :math:`i` better than :math:`i`'s
own, large when it does not. Groups: average-linkage clustering of the symmetrized coefficient
:math:`d_{ij} = (C_{ij} + C_{ji})/2` into ``k`` groups (default: the ``k`` of the highest mean
silhouette). The score ``relate evaluate`` ranks is :math:`S_{ij} = -C_{ij}`. Cost: the
single-task trainings plus the head fits.
"""

from __future__ import annotations

import json
import logging
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from molmtl.data.cache import atomic_path
from molmtl.errors import InputError
from molmtl.inference import encoder_class, load_model
from molmtl.models.heads import make_head
from molmtl.relate.base import Measure, MeasureResult, Scores, Study, write_summary
from molmtl.relate.cluster import check_k, hierarchical_groups
from molmtl.relate.gains import single_spec
from molmtl.relate.heads import FitSettings, embed, fit_heads, normalized_targets
from molmtl.relate.plots import heatmaps
from molmtl.relate.registry import RELATEDNESS
from molmtl.relate.runs import train_runs
from molmtl.relate.tables import groups_text, read_matrix, write_grouping, write_matrix
from molmtl.targets import resolve_target
from molmtl.training.data import fit_scaler, load_training_data

log = logging.getLogger(__name__)


def compute_device(config) -> str:
    """``cuda`` when the budget trains on a GPU and one is there, else ``cpu``."""
    wants = config.accelerator in ("gpu", "cuda") or (config.accelerator == "auto" and torch.cuda.is_available())
    return "cuda" if wants and torch.cuda.is_available() else "cpu"


def shared_encoder(strategy):
    """The encoder of a single-task or hard-sharing model."""
    if hasattr(strategy, "encoder"):
        return strategy.encoder
    return strategy.encoders[0]


def transfer_coefficients(losses) -> np.ndarray:
    """``C[i, j] = L[i, j] / L[i, i]`` from the validation losses ``L[i, j]`` of task i on encoder j."""
    losses = np.asarray(losses, dtype=float)
    return losses / np.diag(losses)[:, None]


@RELATEDNESS.register("transfer")
class TransferMeasure(Measure):
    """Cross-task transfer coefficients from frozen single-task encoders; hierarchical groups.

    Args:
        groups (int | None): number of groups (default: chosen by the mean silhouette).
        head_epochs (int | None): epochs of fitting the fresh heads (default: the budget's epochs).
    """

    folder = "transfer"

    def __init__(self, groups: int | None = None, head_epochs: int | None = None):
        if head_epochs is not None and (isinstance(head_epochs, bool) or head_epochs < 1):
            raise InputError(f"--head-epochs must be a whole number >= 1, got {head_epochs!r}")
        self.k, self.head_epochs = groups, head_epochs

    def compute(self, study: Study) -> MeasureResult:
        tasks, config = study.tasks, study.config
        check_k(self.k, len(tasks))
        start = time.perf_counter()
        specs = [single_spec(config, t, config.seed) for t in tasks]
        outcomes = train_runs(specs, study.out, client=study.client, threads=study.threads, progress=study.progress,
                              desc="transfer encoders")
        train_s = sum(outcomes[s.label].wall_s for s in specs)
        heads_start = time.perf_counter()
        fit = FitSettings.from_config(config, self.head_epochs)
        out = study.folder(self.folder)
        losses = np.full((len(tasks), len(tasks)), np.nan)
        enc = encoder_class(config)
        device = compute_device(config)
        data = scaler = y = None
        for j, spec in enumerate(specs):
            part = out / "encoders" / f"{spec.label}.json"
            body = json.loads(part.read_text()) if part.is_file() else None
            if (body is not None and body.get("run") == spec.folder(study.out).name and body.get("fit") == fit.__dict__
                    and all(t in body.get("val_loss", {}) for t in tasks)):  # a study of more tasks refits
                losses[:, j] = [body["val_loss"][t] for t in tasks]
                continue
            if data is None:  # the labels and features of every task, once
                data = load_training_data(config, graph=enc.needs_graph, geometry=enc.needs_geometry)
                scaler = fit_scaler(data.train, data.targets, config.normalization, config.max_z)
                y = {p: normalized_targets(scaler, getattr(data, p)).to(device) for p in ("train", "val")}
            encoder = shared_encoder(load_model(outcomes[spec.label].folder).strategy)
            feats = {p: embed(encoder, getattr(data, p), graph=enc.needs_graph, geometry=enc.needs_geometry,
                              device=device) for p in ("train", "val")}
            heads = partial(make_head, **{"max_z": config.max_z, **config.head_hp})
            column = fit_heads([resolve_target(t) for t in tasks], heads, feats["train"], y["train"], feats["val"],
                               y["val"], fit)
            losses[:, j] = column
            with atomic_path(part) as tmp:
                tmp.write_text(json.dumps({"run": spec.folder(study.out).name, "fit": fit.__dict__,
                                           "val_loss": dict(zip(tasks, column.tolist()))}, indent=2))
            log.info("transfer: heads on the frozen %s encoder fitted (%d/%d)", tasks[j], j + 1, len(tasks))
        heads_s = time.perf_counter() - heads_start
        bad = [t for t, v in zip(tasks, np.diag(losses)) if not (np.isfinite(v) and v > 0)]
        if bad or not np.isfinite(losses).all():
            raise InputError(f"the transfer losses are not all finite and positive (on its own encoder, {', '.join(bad) or 'none'}): "
                             "a task with no validation labels, or a diverged head fit; leave such tasks out (--tasks)")
        coeff = transfer_coefficients(losses)
        groups, info = hierarchical_groups((coeff + coeff.T) / 2.0, tasks, self.k)
        files = [write_matrix(out / "transfer.csv", coeff, tasks, corner="C_ij: task i on encoder j [-]"),
                 write_matrix(out / "losses.csv", losses, tasks, corner=f"val {config.loss} of task i on encoder j [-]"),
                 heatmaps(out / "transfer.png", [("log2 C_ij (row i on encoder j)", np.log2(coeff))], tasks,
                          label="log2 transfer coefficient [-]", cmap="RdBu_r", ylabel="task i", xlabel="encoder j"),
                 write_grouping(out / "groups.json", groups, tasks)]
        wall = train_s + heads_s
        write_summary(out, {"tasks": tasks, "wall_s": wall, "encoder_training_s": train_s, "head_fitting_s": heads_s,
                            "command_wall_s": time.perf_counter() - start, "head_fit": fit.__dict__,
                            "groups": groups, "grouping": info, "config": config.to_dict()})
        log.info("transfer: groups %s (k = %d)", groups_text(groups), info["k"])
        return MeasureResult(tasks, {"transfer": coeff, "losses": losses}, groups, wall, files, info)

    def scores(self, out: Path) -> list[Scores]:
        wall = float(self.summary(out)["wall_s"])
        tasks, coeff = read_matrix(Path(out) / self.folder / "transfer.csv")
        return [Scores("transfer -C_ij", tasks, -coeff, wall)]


__all__ = ["TransferMeasure", "compute_device", "shared_encoder", "transfer_coefficients"]
