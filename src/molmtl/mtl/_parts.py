"""Small pieces the strategies share: building encoders and a bank of per-task heads."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from molmtl.errors import InputError
from molmtl.models.base import AtomFeatures, Encoder, masked_mean
from molmtl.models.heads import stackable, stacked_heads
from molmtl.mtl.base import EncoderFactory, HeadFactory
from molmtl.targets import Target


def build_encoder(encoder_factory: EncoderFactory) -> Encoder:
    """Call the factory and check that the result declares ``out_dim``."""
    enc = encoder_factory()
    if not isinstance(getattr(enc, "out_dim", None), int):
        raise InputError("the encoder factory must return an Encoder with an integer out_dim.")
    return enc


class HeadBank(nn.Module):
    """One head per task, all reading the same :class:`AtomFeatures`.

    Args:
        targets: the tasks, in output-column order.
        head_factory: ``head_factory(target, in_dim)`` -> module mapping AtomFeatures to ``(B,)``.
        in_dim: feature width the heads read.
    """

    def __init__(self, targets: Sequence[Target], head_factory: HeadFactory, in_dim: int):
        super().__init__()
        self.keys = tuple(t.key for t in targets)
        # ModuleDict keys must not clash with nn.Module attributes; prefix them.
        self.heads = nn.ModuleDict({f"t_{t.key}": head_factory(t, in_dim) for t in targets})
        readouts = [getattr(self.heads[f"t_{t.key}"], "readout", None) for t in targets]
        self.register_buffer("_is_mean", torch.tensor([r == "mean" for r in readouts]), persistent=False)
        self.register_buffer("_dipole_idx", torch.tensor([i for i, r in enumerate(readouts) if r == "dipole"],
                                                         dtype=torch.long), persistent=False)

    def head(self, key: str) -> nn.Module:
        return self.heads[f"t_{key}"]

    def forward(self, feats: AtomFeatures) -> Tensor:
        """``(B, T)`` predictions, columns in task order (plain task heads are evaluated stacked)."""
        heads = [self.head(k) for k in self.keys]
        if len(heads) > 1 and stackable(heads):
            return stacked_heads(heads, feats, self._is_mean, self._dipole_idx)
        return torch.stack([h(feats).reshape(-1) for h in heads], dim=1)


def pooled(*feats: AtomFeatures) -> Tensor:
    """``(B, sum F)``: each encoder output's masked mean atom features (float32), concatenated."""
    return torch.cat([masked_mean(f.h.float(), f.mask) for f in feats], dim=-1)


def first_linear(head: nn.Module, in_dim: int) -> nn.Linear:
    """The first ``nn.Linear`` of a head that reads ``in_dim`` features (its shared-to-head layer)."""
    for m in head.modules():
        if isinstance(m, nn.Linear) and m.in_features == in_dim:
            return m
    raise InputError(f"the head has no nn.Linear layer reading the {in_dim} encoder features; "
                     "group lasso and MRN need one.")


def feature_tensors(feats: AtomFeatures) -> list[Tensor]:
    """The differentiable tensors of ``feats`` that heads read (h, and vec when present)."""
    return [feats.h] if feats.vec is None else [feats.h, feats.vec]
