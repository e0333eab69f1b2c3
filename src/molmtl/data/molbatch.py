"""The batch every encoder reads: molecules dense and padded, with their labels."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from torch import Tensor


@dataclass
class GraphBatch:
    """Molecular graphs of a batch, flat as PyTorch Geometric has them (its convolutions take these
    tensors; PyG itself, two seconds to import, is needed only by the encoders that use it).

    Attributes:
        x: ``(n_nodes, F)`` atom features.
        edge_index: ``(2, n_edges)`` directed edges, each bond as i->j then j->i.
        edge_attr: ``(n_edges, F_e)`` bond features.
        z: ``(n_nodes,)`` atomic numbers.
        batch: ``(n_nodes,)`` the molecule of each node.
        ptr: ``(B + 1,)`` offsets of each molecule's nodes.
    """

    x: Tensor
    edge_index: Tensor
    edge_attr: Tensor
    z: Tensor
    batch: Tensor
    ptr: Tensor

    def to(self, device, non_blocking: bool = False) -> "GraphBatch":
        return GraphBatch(**{f.name: getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)})

    @property
    def num_graphs(self) -> int:
        return int(self.ptr.shape[0]) - 1


@dataclass
class MolBatch:
    """A batch of molecules, dense and padded to the largest in the batch.

    Attributes:
        z: ``(B, N)`` long atomic numbers, 0 for padding.
        pos: ``(B, N, 3)`` float positions in Angstrom (zeros for padding), or None (2D data).
        mask: ``(B, N)`` bool, True for real atoms.
        y: ``(B, T)`` float targets in the registry's units, NaN where missing; None at inference.
        graph: a :class:`GraphBatch` for 2D encoders, or None.
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


__all__ = ["GraphBatch", "MolBatch"]
