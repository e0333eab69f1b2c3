"""Clustered multi-task learning: hard sharing inside each group of related tasks.

A grouping (e.g. from ``molmtl relate`` task clustering, or TAG, Fifty et al. 2021) is a list of
groups of task keys (:mod:`molmtl.mtl.grouping`); each group gets its own hard-shared encoder
and the predictions are merged back into task order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from molmtl.errors import InputError
from molmtl.models.base import MolBatch
from molmtl.mtl.base import EncoderFactory, HeadFactory, Strategy, StrategyOutput
from molmtl.mtl.grouping import check_grouping, load_grouping
from molmtl.mtl.hard import HardSharing
from molmtl.mtl.registry import STRATEGIES
from molmtl.targets import resolve_tasks


@STRATEGIES.register("clustered")
class ClusteredSharing(Strategy):
    """One :class:`HardSharing` model per group; predictions merged in task order.

    Args:
        tasks: target keys, in output order (default: the grouping's keys in reading order).
        encoder_factory: builds one encoder per group.
        head_factory: builds one head per task.
        groups: the grouping (list of lists of keys), or a path to a grouping file.
        group_lasso (float): passed to every group's hard-sharing model (default 0).
    """

    def __init__(self, tasks: Sequence[str] | None, encoder_factory: EncoderFactory, head_factory: HeadFactory,
                 groups: Sequence[Sequence[str]] | str | Path | None = None, group_lasso: float = 0.0):
        super().__init__()
        if groups is None:
            raise InputError("the clustered strategy needs groups (a list of lists of task keys or a grouping file).")
        if isinstance(groups, (str, Path)):
            groups = load_grouping(groups)
        self.groups = check_grouping(groups, tasks)
        order = [k for g in self.groups for k in g]
        self.tasks = tuple(t.key for t in resolve_tasks(tasks)) if tasks else tuple(order)
        self.models = nn.ModuleList(HardSharing(g, encoder_factory, head_factory, group_lasso) for g in self.groups)
        # Column of the concatenated group predictions that holds each task.
        self.register_buffer("_perm", torch.tensor([order.index(k) for k in self.tasks]), persistent=False)

    def forward(self, batch: MolBatch) -> StrategyOutput:
        outs = [m(batch) for m in self.models]
        pred = torch.cat([o.pred for o in outs], dim=1)[:, self._perm]
        embedding = None if any(o.embedding is None for o in outs) else torch.cat([o.embedding for o in outs], dim=-1)
        return StrategyOutput(pred=pred, features=[f for o in outs for f in o.features], embedding=embedding)

    def penalty(self):
        return sum((m.penalty() for m in self.models[1:]), self.models[0].penalty())

    def shared_parameters(self) -> list[nn.Parameter]:
        return [p for m in self.models for p in m.shared_parameters()]
