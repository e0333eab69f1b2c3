"""The batch every encoder reads: molecules dense and padded, with their labels."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from torch import Tensor


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


__all__ = ["MolBatch"]
