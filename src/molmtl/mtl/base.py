"""The contract for multi-task strategies and loss balancers.

A :class:`Strategy` owns encoders and per-task heads and decides what tasks share; it predicts
all its tasks in *normalized* units (see ``molmtl.models.normalize``). A :class:`Balancer`
turns per-task losses into parameter gradients: a weighted sum (equal, uncertainty, DWA,
GradNorm, FAMO) or a Jacobian aggregation through torchjd (UPGrad, MGDA, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from molmtl.models.base import AtomFeatures, Encoder, MolBatch
from molmtl.targets import Target

EncoderFactory = Callable[[], Encoder]
#: ``head_factory(target, in_dim)`` -> module mapping AtomFeatures to ``(B,)`` normalized predictions.
HeadFactory = Callable[[Target, int], nn.Module]


@dataclass
class StrategyOutput:
    """What a strategy's forward returns.

    Attributes:
        pred: ``(B, T)`` predictions in normalized units, task order = ``strategy.tasks``.
        features: the representation every task reads when the strategy has one shared encoder
            (hard sharing), for torchjd's ``mtl_backward``; None otherwise.
        embedding: ``(B, E)`` one vector per molecule, the model's own representation of it
            (the masked mean of the atom features each encoder gives, concatenated over
            encoders): what :mod:`molmtl.uncertainty` measures distances to the training set in.
            None when a strategy gives none.
    """

    pred: Tensor
    features: list[Tensor] | None = None
    embedding: Tensor | None = None


class Strategy(nn.Module):
    """Base class of multi-task strategies.

    Subclasses set ``tasks`` and implement ``forward``; override ``penalty`` when the strategy
    adds a regularizer (soft sharing's L2 between task layers, MRN's tensor-normal prior,
    group lasso) and ``shared_parameters`` when tasks share parameters.
    """

    tasks: tuple[str, ...]
    #: True when ``forward`` runs its encoders through ``encoder(batch)`` (so an encoder's own
    #: compiled forward is used); False for layer-wise strategies that call ``stages()``.
    calls_encoder_forward: bool = True

    def forward(self, batch: MolBatch) -> StrategyOutput:  # pragma: no cover - interface
        raise NotImplementedError

    def penalty(self) -> Tensor:
        """Scalar regularizer added to the training loss (0 by default)."""
        return torch.zeros((), device=next(self.parameters()).device)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters that every task's loss reaches (empty for single-task learning)."""
        return []

    def task_parameters(self) -> list[nn.Parameter]:
        """Parameters that are not shared."""
        shared = {id(p) for p in self.shared_parameters()}
        return [p for p in self.parameters() if id(p) not in shared]

    def on_after_step(self) -> None:
        """Hook run after each optimizer step (MRN updates its covariances here)."""


class Balancer(nn.Module):
    """Turns per-task losses into gradients on the strategy's parameters.

    ``backward`` must leave ``.grad`` set on every trainable parameter of the strategy (and of
    the balancer itself, e.g. uncertainty weights) and return a dict of values to log: floats or
    0-d tensors (tensors stay on the device, so logging them costs no host-device sync).
    """

    def backward(self, losses: Tensor, strategy: Strategy, output: StrategyOutput, penalty: Tensor) -> dict[str, float | Tensor]:  # pragma: no cover
        raise NotImplementedError


#: Per-task losses on normalized targets.
LOSSES = ("mse", "l1")


def masked_loss_sums(pred: Tensor, target: Tensor, kind: str = "mse") -> tuple[Tensor, Tensor]:
    """Per-task sums of the loss over labelled entries and the label counts, both ``(T,)``.

    ``pred`` and ``target`` are ``(B, T)`` in normalized units; NaN labels contribute nothing
    (users' CSVs may be sparse), ``kind`` is ``mse`` (squared error) or ``l1``. Sums rather than
    means, so that evaluation can add batches up exactly before dividing.
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; use one of {', '.join(LOSSES)}")
    mask = ~torch.isnan(target)
    diff = torch.where(mask, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    per = diff.abs() if kind == "l1" else diff.pow(2)
    return per.sum(dim=0), mask.sum(dim=0)


def masked_task_losses(pred: Tensor, target: Tensor, kind: str = "mse") -> Tensor:
    """Per-task mean loss ``(T,)`` over labelled entries (:func:`masked_loss_sums` / counts).

    A task with no label in the batch gets loss 0 with no gradient.
    """
    total, count = masked_loss_sums(pred, target, kind)
    return total / count.clamp(min=1).to(total.dtype)


__all__ = [
    "AtomFeatures", "Balancer", "EncoderFactory", "HeadFactory", "MolBatch", "Strategy", "StrategyOutput",
    "LOSSES", "masked_loss_sums", "masked_task_losses",
]
