r"""Cross-stitch networks: per-task encoders whose layer outputs are mixed by learned units.

Misra et al., "Cross-stitch Networks for Multi-task Learning" (CVPR 2016). After every stage
:math:`\ell` of the :math:`T` task encoders, the atom features are recombined

.. math::
    \tilde h^{(\ell)}_i = \sum_{j=1}^{T} \alpha^{(\ell)}_{ij} \, h^{(\ell)}_j,

with one learned :math:`T \times T` matrix :math:`\alpha^{(\ell)}` per stage, initialised near the
identity (:math:`\alpha_{ii} = a`, :math:`\alpha_{ij} = (1-a)/(T-1)`; Misra et al. use
:math:`a = 0.9`). Equivariant vector features are mixed with the same weights (a linear map across
tasks keeps them equivariant).

Encoder protocol: the encoder must expose ``stages()``, a sequence of callables
``stage(state: AtomFeatures | None, batch: MolBatch) -> AtomFeatures`` applied in order (the
first receives ``None`` and embeds the batch), whose composition equals ``encoder(batch)``;
the package's PaiNN, GCN and MPNN get such stages from :mod:`molmtl.mtl.stages`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor, nn

from molmtl.errors import InputError
from molmtl.models.base import AtomFeatures, MolBatch
from molmtl.mtl._parts import build_encoder, feature_tensors, pooled
from molmtl.mtl.base import EncoderFactory, HeadFactory, Strategy, StrategyOutput
from molmtl.mtl.registry import STRATEGIES
from molmtl.mtl.stages import encoder_stages
from molmtl.targets import resolve_tasks


def stitch_init(n_tasks: int, self_weight: float) -> Tensor:
    """``(T, T)`` initial cross-stitch matrix: ``self_weight`` on the diagonal, rows sum to 1."""
    if n_tasks == 1:
        return torch.ones(1, 1)
    off = (1.0 - self_weight) / (n_tasks - 1)
    return torch.full((n_tasks, n_tasks), off) + (self_weight - off) * torch.eye(n_tasks)


def _mix(alpha: Tensor, states: list[AtomFeatures]) -> list[AtomFeatures]:
    h = torch.einsum("ts,s...->t...", alpha, torch.stack([s.h for s in states]))
    vec = None
    if states[0].vec is not None:
        vec = torch.einsum("ts,s...->t...", alpha, torch.stack([s.vec for s in states]))
    return [replace(s, h=h[i], vec=None if vec is None else vec[i]) for i, s in enumerate(states)]


@STRATEGIES.register("cross-stitch")
class CrossStitch(Strategy):
    """Per-task encoders exchanging features through cross-stitch units after every stage.

    ``features`` are the per-task mixed encoder outputs (task :math:`i`'s head reads only the
    :math:`i`-th), the last tensors computed from shared parameters, as ``mtl_backward`` needs.

    Args:
        tasks: target keys, in output order.
        encoder_factory: builds one encoder per task; encoders must expose ``stages()``.
        head_factory: builds one head per task.
        self_weight (float): initial diagonal of the cross-stitch matrices (default 0.9).
    """

    calls_encoder_forward = False  # runs the encoders stage by stage

    def __init__(self, tasks: Sequence[str], encoder_factory: EncoderFactory, head_factory: HeadFactory,
                 self_weight: float = 0.9):
        super().__init__()
        targets = resolve_tasks(tasks)
        self.tasks = tuple(t.key for t in targets)
        if not 0.0 <= self_weight <= 1.0:
            raise InputError(f"self_weight must lie in [0, 1], got {self_weight}.")
        self.encoders = nn.ModuleList(build_encoder(encoder_factory) for _ in targets)
        n_stages = len(encoder_stages(self.encoders[0]))  # also checks the encoder has stages
        self.alphas = nn.ParameterList(nn.Parameter(stitch_init(len(targets), self_weight)) for _ in range(n_stages))
        self.heads = nn.ModuleList(head_factory(t, enc.out_dim) for t, enc in zip(targets, self.encoders))

    def forward(self, batch: MolBatch) -> StrategyOutput:
        # Built per call (cheap closures), so the module holds no closures: it stays picklable.
        all_stages = [encoder_stages(enc) for enc in self.encoders]
        states: list[AtomFeatures | None] = [None] * len(self.encoders)
        for k, alpha in enumerate(self.alphas):
            states = _mix(alpha, [stages[k](s, batch) for stages, s in zip(all_stages, states)])
        pred = torch.stack([head(s).reshape(-1) for head, s in zip(self.heads, states)], dim=1)
        return StrategyOutput(pred=pred, features=[t for s in states for t in feature_tensors(s)], embedding=pooled(*states))

    def shared_parameters(self) -> list[nn.Parameter]:
        # Through the off-diagonal stitch weights every task's loss reaches every encoder.
        return [p for p in [*self.encoders.parameters(), *self.alphas] if p.requires_grad]
