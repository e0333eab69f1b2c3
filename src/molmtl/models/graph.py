"""From flat node features (PyTorch Geometric's layout) to the dense padded AtomFeatures every head reads."""

from __future__ import annotations

import torch

from molmtl.models.base import AtomFeatures, MolBatch


def dense_atom_features(h_flat, batch: MolBatch) -> AtomFeatures:
    """Flat node features ``(n_nodes, F)`` -> dense padded :class:`AtomFeatures` (heavy atoms),
    each molecule's nodes in their order, zeros after them (what PyG's ``to_dense_batch`` gives,
    without importing PyG).

    ``state.h[state.mask]`` inverts it.
    """
    g = batch.graph
    size = len(batch)
    counts = torch.bincount(g.batch, minlength=size)
    width = int(counts.max()) if counts.numel() else 0
    slot = torch.arange(g.batch.shape[0], device=g.batch.device) - (torch.cumsum(counts, 0) - counts)[g.batch]
    dense = h_flat.new_zeros(size, width, *h_flat.shape[1:])
    dense[g.batch, slot] = h_flat
    mask = torch.zeros(size, width, dtype=torch.bool, device=h_flat.device)
    mask[g.batch, slot] = True
    z = g.z.new_zeros(size, width)
    z[g.batch, slot] = g.z
    return AtomFeatures(h=dense, mask=mask, z=z)
