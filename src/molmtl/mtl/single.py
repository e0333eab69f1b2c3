"""Single-task learning: an independent encoder and head per task inside one module.

Each task's loss reaches only its own model, so training all tasks at once is the same as training
them one at a time (the usual STL baseline for Delta_m).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from molmtl.models.base import MolBatch
from molmtl.mtl._parts import build_encoder, pooled
from molmtl.mtl.base import EncoderFactory, HeadFactory, Strategy, StrategyOutput
from molmtl.mtl.registry import STRATEGIES
from molmtl.targets import resolve_tasks


@STRATEGIES.register("single")
class SingleTask(Strategy):
    """``T`` independent (encoder, head) pairs.

    Args:
        tasks: target keys, in output order.
        encoder_factory: builds one encoder per task.
        head_factory: builds one head per task.
    """

    def __init__(self, tasks: Sequence[str], encoder_factory: EncoderFactory, head_factory: HeadFactory):
        super().__init__()
        targets = resolve_tasks(tasks)
        self.tasks = tuple(t.key for t in targets)
        self.encoders = nn.ModuleList(build_encoder(encoder_factory) for _ in targets)
        self.heads = nn.ModuleList(head_factory(t, enc.out_dim) for t, enc in zip(targets, self.encoders))

    def forward(self, batch: MolBatch) -> StrategyOutput:
        feats = [enc(batch) for enc in self.encoders]
        cols = [head(f).reshape(-1) for f, head in zip(feats, self.heads)]
        return StrategyOutput(pred=torch.stack(cols, dim=1), embedding=pooled(*feats))
