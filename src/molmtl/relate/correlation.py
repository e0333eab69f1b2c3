r"""Label correlations: how linearly (Pearson) and monotonically (Spearman) the tasks' labels go
together on the training split, and the groups they suggest.

For tasks :math:`i, j` over the :math:`n_{ij}` training molecules labelled for both (missing
labels are left out pairwise),

.. math::
    r_{ij} = \frac{\sum_m (y_{mi} - \bar y_i)(y_{mj} - \bar y_j)}
    {\sqrt{\sum_m (y_{mi} - \bar y_i)^2} \sqrt{\sum_m (y_{mj} - \bar y_j)^2}},
    \qquad \rho_{ij} = r\big(\mathrm{rank}(y_{\cdot i}), \mathrm{rank}(y_{\cdot j})\big)

(ties ranked by their mean rank). The grouping is the connected components of the graph with an
edge wherever :math:`|r_{ij}| \ge` the threshold (0.8 by default, as the project's first
experiments did); the score ``relate evaluate`` ranks is :math:`S_{ij} = |r_{ij}|`. No model is
trained: the cost is reading the labels.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from molmtl.errors import InputError
from molmtl.relate.base import Measure, MeasureResult, Scores, Study, write_summary
from molmtl.relate.cluster import threshold_groups
from molmtl.relate.plots import correlation_graph, heatmaps
from molmtl.relate.registry import RELATEDNESS
from molmtl.relate.tables import groups_text, read_matrix, write_grouping, write_matrix
from molmtl.training.data import load_training_data

log = logging.getLogger(__name__)

METHODS = ("pearson", "spearman")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def label_correlation(y) -> tuple[np.ndarray, np.ndarray]:
    """Pearson and Spearman matrices ``(T, T)`` of labels ``y`` ``(n, T)`` (NaN = missing, left out
    pair by pair; NaN where a pair has fewer than 3 common labels or a constant column)."""
    y = np.asarray(y, dtype=float)
    if y.ndim != 2:
        raise InputError(f"labels must be a (molecules x tasks) matrix, got shape {y.shape}")
    T = y.shape[1]
    pearson, spearman = np.eye(T), np.eye(T)
    finite = np.isfinite(y)
    for i in range(T):
        for j in range(i + 1, T):
            both = finite[:, i] & finite[:, j]
            if both.sum() < 3:
                pearson[i, j] = pearson[j, i] = spearman[i, j] = spearman[j, i] = np.nan
                continue
            a, b = y[both, i], y[both, j]
            pearson[i, j] = pearson[j, i] = _pearson(a, b)
            spearman[i, j] = spearman[j, i] = _pearson(rankdata(a), rankdata(b))
    return pearson, spearman


@RELATEDNESS.register("correlation")
class CorrelationMeasure(Measure):
    """Label correlations on the training split; groups: components of the thresholded graph.

    Args:
        threshold (float): an edge where the absolute correlation is at least this (0 < t <= 1).
        method (str): the correlation the graph uses, pearson or spearman.
    """

    folder = "correlation"

    def __init__(self, threshold: float = 0.8, method: str = "pearson"):
        if not 0.0 < threshold <= 1.0:
            raise InputError(f"--threshold must be in (0, 1], got {threshold}")
        if method not in METHODS:
            raise InputError(f"unknown correlation method {method!r}; choose one of: {', '.join(METHODS)}")
        self.threshold, self.method = float(threshold), method

    def compute(self, study: Study) -> MeasureResult:
        start = time.perf_counter()
        data = load_training_data(study.config, graph=False, geometry=False)
        y = data.train.y
        pearson, spearman = label_correlation(y)
        chosen = pearson if self.method == "pearson" else spearman
        tasks = study.tasks
        groups = threshold_groups(chosen, tasks, self.threshold)
        wall = time.perf_counter() - start
        out = study.folder(self.folder)
        files = [write_matrix(out / "pearson.csv", pearson, tasks, corner="Pearson r [-]"),
                 write_matrix(out / "spearman.csv", spearman, tasks, corner="Spearman rho [-]"),
                 heatmaps(out / "correlation.png", [("Pearson r", pearson), ("Spearman rho", spearman)], tasks,
                          label="correlation on the training split [-]", vmin=-1, vmax=1),
                 correlation_graph(out / "graph.png", chosen, tasks, groups, self.threshold,
                                   title=f"|{self.method}| >= {self.threshold:g}: {len(groups)} groups"),
                 write_grouping(out / "groups.json", groups, tasks)]
        write_summary(out, {"tasks": tasks, "method": self.method, "threshold": self.threshold, "molecules": len(y),
                            "split": data.split.name, "groups": groups, "wall_s": wall})
        log.info("correlation: %d training molecules; groups %s", len(y), groups_text(groups))
        return MeasureResult(tasks, {"pearson": pearson, "spearman": spearman}, groups, wall, files)

    def scores(self, out: Path) -> list[Scores]:
        wall = float(self.summary(out)["wall_s"])
        result = []
        for name, label in (("pearson", "absolute Pearson r"), ("spearman", "absolute Spearman rho")):
            tasks, m = read_matrix(Path(out) / self.folder / f"{name}.csv")
            result.append(Scores(label, tasks, np.abs(m), wall))
        return result


__all__ = ["METHODS", "CorrelationMeasure", "label_correlation"]
