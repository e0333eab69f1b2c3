r"""Hard parameter sharing: one encoder for every task, one head per task.

Caruana, "Multitask Learning" (Machine Learning 1997). With ``group_lasso > 0`` the first layer of
every head (the shared-to-head weights :math:`W^{(t)} \in \mathbb{R}^{h \times F}`) gets the
block-sparse penalty

.. math::
    \Omega = \lambda_{gl} \sum_t \sum_{k=1}^{F} \lVert W^{(t)}_{:,k} \rVert_2,

one group per shared input feature :math:`k`, so each task learns which shared features it reads
(an L1 norm over groups, an L2 norm within a group).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from molmtl.errors import InputError
from molmtl.models.base import MolBatch
from molmtl.mtl._parts import (
    HeadBank,
    build_encoder,
    feature_tensors,
    first_linear,
    pooled,
)
from molmtl.mtl.base import EncoderFactory, HeadFactory, Strategy, StrategyOutput
from molmtl.mtl.registry import STRATEGIES
from molmtl.targets import resolve_tasks


@STRATEGIES.register("hard")
class HardSharing(Strategy):
    r"""One shared encoder, per-task heads.

    ``forward`` returns ``features`` = the encoder's output tensors (``h``, and ``vec`` for
    equivariant encoders) so Jacobian balancers can use torchjd's ``mtl_backward``.

    Args:
        tasks: target keys, in output order.
        encoder_factory: builds the shared encoder.
        head_factory: builds one head per task.
        group_lasso (float): weight :math:`\lambda_{gl}` of the group-lasso penalty (default 0).
    """

    def __init__(self, tasks: Sequence[str], encoder_factory: EncoderFactory, head_factory: HeadFactory,
                 group_lasso: float = 0.0):
        super().__init__()
        targets = resolve_tasks(tasks)
        self.tasks = tuple(t.key for t in targets)
        if not group_lasso >= 0.0:
            raise InputError(f"group_lasso must be >= 0, got {group_lasso}.")
        self.group_lasso = float(group_lasso)
        self.encoder = build_encoder(encoder_factory)
        self.heads = HeadBank(targets, head_factory, self.encoder.out_dim)
        if self.group_lasso > 0:
            # Fail at construction, not at the first step, if a head has no such layer.
            for k in self.tasks:
                first_linear(self.heads.head(k), self.encoder.out_dim)

    def forward(self, batch: MolBatch) -> StrategyOutput:
        feats = self.encoder(batch)
        return StrategyOutput(pred=self.heads(feats), features=feature_tensors(feats), embedding=pooled(feats))

    def group_norms(self) -> Tensor:
        """``(T, F)`` L2 norm of each head's first-layer column (one per shared feature)."""
        cols = [first_linear(self.heads.head(k), self.encoder.out_dim).weight.norm(dim=0) for k in self.tasks]
        return torch.stack(cols)

    def penalty(self) -> Tensor:
        if self.group_lasso == 0:
            return super().penalty()
        return self.group_lasso * self.group_norms().sum()

    def shared_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.encoder.parameters() if p.requires_grad]
