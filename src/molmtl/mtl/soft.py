r"""Soft parameter sharing: one encoder per task, pulled together by an L2 penalty.

Duong et al., "Low Resource Dependency Parsing: Cross-lingual Parameter Sharing in a Neural
Network Parser" (ACL 2015). For every encoder parameter :math:`W` (same position in every task's
encoder)

.. math::
    \Omega = \lambda \sum_{i<j} \lVert W_i - W_j \rVert_2^2
           = \lambda \, T \sum_{i=1}^{T} \lVert W_i - \bar W \rVert_2^2,
    \qquad \bar W = \frac{1}{T}\sum_i W_i,

which costs :math:`O(T)` instead of :math:`O(T^2)` (the centred form is also free of the
cancellation of :math:`T\sum\lVert W_i\rVert^2 - \lVert\sum W_i\rVert^2` in float32).
:math:`\lambda \to 0` is single-task learning; :math:`\lambda \to \infty` ties the encoders
(hard sharing).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from molmtl.errors import InputError
from molmtl.mtl.base import EncoderFactory, HeadFactory
from molmtl.mtl.registry import STRATEGIES
from molmtl.mtl.single import SingleTask


@STRATEGIES.register("soft")
class SoftSharing(SingleTask):
    r"""Per-task encoders and heads with an L2 coupling between matching encoder parameters.

    Args:
        tasks: target keys, in output order.
        encoder_factory: builds one encoder per task (all must have the same parameter shapes).
        head_factory: builds one head per task.
        lam (float): coupling weight :math:`\lambda` (default 1e-3).
        same_init (bool): start every encoder from the first one's weights (default False).
    """

    def __init__(self, tasks: Sequence[str], encoder_factory: EncoderFactory, head_factory: HeadFactory,
                 lam: float = 1e-3, same_init: bool = False):
        super().__init__(tasks, encoder_factory, head_factory)
        if not lam >= 0.0:
            raise InputError(f"lam must be >= 0, got {lam}.")
        self.lam = float(lam)
        shapes = [tuple(p.shape for p in enc.parameters()) for enc in self.encoders]
        if any(s != shapes[0] for s in shapes):
            raise InputError("soft sharing needs encoders with identical parameter shapes.")
        if same_init:
            state = self.encoders[0].state_dict()
            for enc in self.encoders[1:]:
                enc.load_state_dict(state)

    def distance(self) -> Tensor:
        r""":math:`\sum_{i<j} \lVert W_i - W_j \rVert^2` summed over encoder parameters (no :math:`\lambda`)."""
        T = len(self.encoders)
        total = torch.zeros((), device=next(self.parameters()).device)
        for group in zip(*(enc.parameters() for enc in self.encoders)):
            stack = torch.stack(group)  # (T, *shape)
            total = total + T * (stack - stack.mean(dim=0, keepdim=True)).pow(2).sum()
        return total

    def penalty(self) -> Tensor:
        if self.lam == 0 or len(self.encoders) < 2:
            return super().penalty()
        return self.lam * self.distance()
