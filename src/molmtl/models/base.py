"""The contract between data, encoders, heads and multi-task strategies.

Data produce a :class:`MolBatch`; an :class:`Encoder` maps it to per-atom features
(:class:`AtomFeatures`, dense and padded); heads read those out per task. Strategies
(``molmtl.mtl``) decide which encoder parameters tasks share.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn


@dataclass
class MolBatch:
    """A batch of molecules, dense and padded to the largest in the batch.

    Attributes:
        z: ``(B, N)`` long atomic numbers, 0 for padding.
        pos: ``(B, N, 3)`` float positions in Angstrom (zeros for padding), or None (2D data).
        mask: ``(B, N)`` bool, True for real atoms.
        y: ``(B, T)`` float targets in the registry's units, NaN where missing; None at inference.
        graph: a ``torch_geometric.data.Batch`` (x, edge_index, edge_attr, batch, z) for 2D
            encoders, or None.
    """

    z: Tensor
    pos: Tensor | None
    mask: Tensor
    y: Tensor | None = None
    graph: Any = None

    def to(self, device, non_blocking: bool = False) -> "MolBatch":
        moved = {}
        for f in fields(self):
            v = getattr(self, f.name)
            moved[f.name] = v.to(device, non_blocking=non_blocking) if hasattr(v, "to") else v
        return MolBatch(**moved)

    def __len__(self) -> int:
        return self.z.shape[0]


@dataclass
class AtomFeatures:
    """Per-atom representation from an encoder, dense and padded.

    Attributes:
        h: ``(B, N, F)`` scalar (invariant) features.
        mask: ``(B, N)`` bool, True for real atoms.
        z: ``(B, N)`` atomic numbers of the rows of ``h`` (0 for padding).
        pos: ``(B, N, 3)`` positions (Angstrom) when the encoder saw geometry, else None.
        vec: ``(B, N, 3, F)`` equivariant vector features when the encoder has them, else None.
    """

    h: Tensor
    mask: Tensor
    z: Tensor
    pos: Tensor | None = None
    vec: Tensor | None = None


class Encoder(nn.Module):
    """Base class: ``forward(batch: MolBatch) -> AtomFeatures`` with ``out_dim`` features."""

    out_dim: int

    def forward(self, batch: MolBatch) -> AtomFeatures:  # pragma: no cover - interface
        raise NotImplementedError

    def reset_parameters(self) -> None:
        for m in self.modules():
            if m is not self and hasattr(m, "reset_parameters"):
                m.reset_parameters()


def masked_sum(h: Tensor, mask: Tensor) -> Tensor:
    """Sum over atoms of ``h`` (B, N, ...) where ``mask`` (B, N) is True."""
    m = mask.to(h.dtype).reshape(*mask.shape, *([1] * (h.dim() - 2)))
    return (h * m).sum(dim=1)


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean over real atoms of ``h`` (B, N, ...)."""
    count = mask.sum(dim=1).clamp(min=1).to(h.dtype).reshape(-1, *([1] * (h.dim() - 2)))
    return masked_sum(h, mask) / count


__all__ = ["MolBatch", "AtomFeatures", "Encoder", "masked_sum", "masked_mean"]
