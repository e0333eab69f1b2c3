"""From PyG's flat node features to the dense padded AtomFeatures every head reads."""

from __future__ import annotations

from torch_geometric.utils import to_dense_batch

from molmtl.models.base import AtomFeatures, MolBatch


def dense_atom_features(h_flat, batch: MolBatch) -> AtomFeatures:
    """PyG's flat node features ``(n_nodes, F)`` -> dense padded :class:`AtomFeatures` (heavy atoms).

    ``state.h[state.mask]`` inverts it (to_dense_batch keeps PyG's node order).
    """
    g = batch.graph
    dense, mask = to_dense_batch(h_flat, g.batch, batch_size=len(batch))
    z, _ = to_dense_batch(g.z, g.batch, batch_size=len(batch))
    return AtomFeatures(h=dense, mask=mask, z=z)
