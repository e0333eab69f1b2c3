r"""Gradient cosine: the mean cosine similarity of two tasks' gradients on the shared encoder
over one multi-task run,

.. math::
    \bar c_{ij} = \frac{1}{|\mathcal{T}|} \sum_{t \in \mathcal{T}}
    \frac{\nabla_{\theta_s} L_i^t \cdot \nabla_{\theta_s} L_j^t}
    {\lVert \nabla_{\theta_s} L_i^t \rVert \, \lVert \nabla_{\theta_s} L_j^t \rVert} \quad [-],

measured in the same run as TAG (:mod:`molmtl.relate.affinity`; ``relate tag`` writes both, and
this measure runs it when it is not there). Its cost is that run without the lookahead forward
passes. Groups: the partition of highest total cosine (``gradient_cosine_groups.json``).
"""

from __future__ import annotations

from molmtl.relate.base import MeasureResult, Study
from molmtl.relate.registry import RELATEDNESS
from molmtl.relate.tag import TagMeasure


@RELATEDNESS.register("gradient-cosine")
class GradientCosineMeasure(TagMeasure):
    """Mean cosine of the task gradients on the shared encoder (from TAG's run).

    Args:
        groups (int | None): number of groups (default: the number of highest total cosine).
        every (int): measure every N-th training step.
        lookahead_lr (float | None): TAG's lookahead learning rate (the run measures both).
    """

    matrix_file, groups_file, label = "gradient_cosine.csv", "gradient_cosine_groups.json", "gradient cosine"

    def compute(self, study: Study) -> MeasureResult:
        """TAG's run and outputs (``tag/``); the result holds the cosines' grouping."""
        result = super().compute(study)
        groups = result.info["cosine_groups"]
        return MeasureResult(result.tasks, {"gradient_cosine": result.matrices["gradient_cosine"]}, groups,
                             self.wall(result.info["times"]), result.files, result.info)

    def wall(self, times: dict) -> float:
        """What the cosines alone cost: the run without TAG's lookahead passes."""
        return float(times["train_s"] - times["lookahead_s"])


__all__ = ["GradientCosineMeasure"]
