"""Fresh task heads fitted on a frozen encoder's features (the cheap half of cross-task transfer).

An encoder's atom features are computed once for every molecule of a part
(:func:`embed`, padded to the part's largest molecule) and the labels normalized once
(:func:`normalized_targets`); :func:`fit_heads` then trains one head per task on them, all
together (one optimizer; each head sees only its own task's loss, so this equals fitting them one
by one), with the run's optimizer settings, and returns each task's validation loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import Tensor

from molmtl.data.batching import collate
from molmtl.models.base import AtomFeatures
from molmtl.mtl._parts import HeadBank
from molmtl.mtl.base import masked_loss_sums, masked_task_losses
from molmtl.training.schedule import lr_factor


@dataclass
class FrozenFeatures:
    """Atom features of every molecule of a part, padded to its largest molecule: ``h`` ``(n, N, F)``,
    ``mask`` and ``z`` ``(n, N)``, ``pos`` ``(n, N, 3)`` and ``vec`` ``(n, N, 3, F)`` when the
    encoder gives them."""

    h: Tensor
    mask: Tensor
    z: Tensor
    pos: Tensor | None = None
    vec: Tensor | None = None

    def __len__(self) -> int:
        return self.h.shape[0]

    def take(self, index: Tensor) -> AtomFeatures:
        """The rows ``index`` as :class:`AtomFeatures`, cut to their largest molecule."""
        mask = self.mask[index]
        width = max(int(mask.sum(1).max()), 1) if len(index) else 1

        def cut(t):
            return None if t is None else t[index][:, :width]

        return AtomFeatures(h=cut(self.h), mask=mask[:, :width], z=cut(self.z), pos=cut(self.pos), vec=cut(self.vec))


def _pad(parts: list[Tensor], width: int) -> Tensor:
    out = []
    for t in parts:
        pad = [0, 0] * (t.dim() - 2) + [0, width - t.shape[1]]
        out.append(torch.nn.functional.pad(t, pad))
    return torch.cat(out)


@torch.no_grad()
def embed(encoder, dataset, *, graph: bool, geometry: bool, batch_size: int = 256,
          device: str | torch.device = "cpu") -> FrozenFeatures:
    """``encoder``'s features of every molecule of ``dataset`` (evaluation mode, no gradients)."""
    encoder = encoder.to(device).eval()
    chunks: dict[str, list[Tensor]] = {"h": [], "mask": [], "z": [], "pos": [], "vec": []}
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        feats = encoder(collate(items, graph=graph, geometry=geometry).to(device))
        for name in chunks:
            value = getattr(feats, name)
            if value is not None:
                chunks[name].append(value.float() if value.is_floating_point() else value)
    width = max(t.shape[1] for t in chunks["h"])
    return FrozenFeatures(**{name: (_pad(parts, width) if parts else None) for name, parts in chunks.items()})


@torch.no_grad()
def normalized_targets(scaler, dataset, *, batch_size: int = 256) -> Tensor:
    """``(n, T)`` float32 labels of ``dataset`` in ``scaler``'s normalized units (NaN kept)."""
    out = []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = collate(items, graph=False, geometry=False)
        out.append(scaler.normalize(batch.y, batch))
    return torch.cat(out)


@dataclass(frozen=True)
class FitSettings:
    """How a loop here trains (heads on frozen features, TAG's run): the budget's optimizer settings
    (AdamW, linear warm-up then cosine decay, gradient clipping, the per-task loss, the seed)."""

    epochs: int
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.01
    grad_clip: float | None = 10.0
    loss: str = "mse"
    seed: int = 0

    @classmethod
    def from_config(cls, config, epochs: int | None = None) -> FitSettings:
        """The settings of a :class:`~molmtl.config.TrainConfig` (``epochs`` overrides its epochs)."""
        return cls(epochs=epochs or config.epochs, batch_size=config.batch_size, lr=config.lr,
                   weight_decay=config.weight_decay, warmup_epochs=config.warmup_epochs,
                   min_lr_ratio=config.min_lr_ratio, grad_clip=config.grad_clip, loss=config.loss, seed=config.seed)

    def schedule(self, opt, steps_per_epoch: int):
        """A LambdaLR of :func:`~molmtl.training.schedule.lr_factor` over ``epochs * steps_per_epoch`` steps."""
        total = self.epochs * max(1, steps_per_epoch)
        warmup = min(int(round(self.warmup_epochs * steps_per_epoch)), total // 2)
        return torch.optim.lr_scheduler.LambdaLR(
            opt, partial(lr_factor, total_steps=total, warmup_steps=warmup, min_ratio=self.min_lr_ratio))


@torch.no_grad()
def validation_loss(heads, feats: FrozenFeatures, y: Tensor, loss: str, batch_size: int = 512) -> np.ndarray:
    """Per-task mean loss ``(T,)`` (normalized units, missing labels left out) of ``heads`` on a part."""
    total = torch.zeros(y.shape[1], dtype=torch.float64, device=y.device)
    count = torch.zeros_like(total)
    for start in range(0, len(feats), batch_size):
        index = torch.arange(start, min(start + batch_size, len(feats)), device=y.device)
        s, n = masked_loss_sums(heads(feats.take(index)).float(), y[index], loss)
        total += s.double()
        count += n.double()
    return (total / count.clamp(min=1)).cpu().numpy()


def fit_heads(targets: Sequence, head_factory: Callable, train: FrozenFeatures, y_train: Tensor,
              val: FrozenFeatures, y_val: Tensor, fit: FitSettings) -> np.ndarray:
    """Fresh heads for ``targets`` on frozen features; each task's validation loss ``(T,)`` after
    the last epoch (normalized units, ``fit.loss``)."""
    torch.manual_seed(fit.seed)
    device = y_train.device
    heads = HeadBank(list(targets), head_factory, train.h.shape[-1]).to(device)
    params = [p for p in heads.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=fit.lr, weight_decay=fit.weight_decay)
    sched = fit.schedule(opt, math.ceil(len(train) / fit.batch_size))
    gen = torch.Generator().manual_seed(fit.seed)
    for _ in range(fit.epochs):
        order = torch.randperm(len(train), generator=gen).to(device)
        for start in range(0, len(train), fit.batch_size):
            index = order[start:start + fit.batch_size]
            losses = masked_task_losses(heads(train.take(index)).float(), y_train[index], fit.loss)
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            if fit.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, fit.grad_clip)
            opt.step()
            sched.step()
    return validation_loss(heads.eval(), val, y_val, fit.loss)


__all__ = ["FitSettings", "FrozenFeatures", "embed", "fit_heads", "normalized_targets", "validation_loss"]
