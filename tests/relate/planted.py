"""Synthetic tasks with a planted structure: six tasks, noisy functions of two independent latent
factors (a1, a2, a3 of factor a; b1, b2, b3 of factor b), and a toy encoder reading the inputs
(the two factors and four noise columns) from ``MolBatch.graph`` as one 'atom' per molecule."""

from __future__ import annotations

import torch
from torch import nn

from molmtl.data.molbatch import MolBatch
from molmtl.models.base import AtomFeatures, Encoder
from molmtl.targets import custom_target

NAMES = ("a1", "a2", "a3", "b1", "b2", "b3")
PLANTED = [["a1", "a2", "a3"], ["b1", "b2", "b3"]]
TARGETS = [custom_target(k) for k in NAMES]


def planted_data(n: int = 512, seed: int = 0, noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(n, 6)`` and labels ``(n, 6)``: a, 0.8 a, -a, b, 0.8 b, -b, each + noise."""
    g = torch.Generator().manual_seed(seed)
    latent = torch.randn(n, 2, generator=g)
    x = torch.cat([latent, 0.5 * torch.randn(n, 4, generator=g)], dim=1)
    a, b = latent[:, :1], latent[:, 1:]
    y = torch.cat([t + noise * torch.randn(n, 1, generator=g) for t in (a, 0.8 * a, -a, b, 0.8 * b, -b)], dim=1)
    return x, y


class ToyEncoder(Encoder):
    """``h = act(W x)`` as one atom's features (``linear``: no activation, weights started small)."""

    needs_graph = False
    needs_geometry = False

    def __init__(self, d: int = 6, width: int = 8, linear: bool = False):
        super().__init__()
        self.lin, self.linear, self.out_dim = nn.Linear(d, width), linear, width
        if linear:
            with torch.no_grad():
                self.lin.weight.mul_(0.01)

    def forward(self, batch: MolBatch) -> AtomFeatures:
        h = self.lin(batch.graph)
        h = h if self.linear else torch.tanh(h)
        return AtomFeatures(h=h.unsqueeze(1), mask=batch.mask, z=batch.z)


def batch_of(x: torch.Tensor, y: torch.Tensor | None) -> MolBatch:
    n = len(x)
    return MolBatch(z=torch.ones(n, 1, dtype=torch.long), pos=None, mask=torch.ones(n, 1, dtype=torch.bool),
                    y=None if y is None else y.double(), graph=x)


def epoch_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int = 32):
    """``batches(epoch)`` for :func:`molmtl.relate.affinity.affinity_training`: a seeded order per epoch."""

    def batches(epoch: int):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            yield batch_of(x[index], y[index])

    return batches
