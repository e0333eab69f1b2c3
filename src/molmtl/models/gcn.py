"""GCN on the 2D molecular graph (hydrogens as atom features).

Kipf and Welling, "Semi-Supervised Classification with Graph Convolutional Networks", ICLR 2017
(https://arxiv.org/abs/1609.02907).
"""

from __future__ import annotations

from torch import nn
from torch_geometric.nn import GCNConv

from molmtl.chem.features import ATOM_FEATURE_DIM
from molmtl.errors import InputError
from molmtl.models.base import AtomFeatures, Encoder, MolBatch, check_positive
from molmtl.models.graph import dense_atom_features
from molmtl.models.registry import ENCODERS


@ENCODERS.register("gcn")
class GCN(Encoder):
    r"""Graph convolutions on the heavy-atom graph built from SMILES.

    .. math::
        H^{(l+1)} = \sigma\left(\hat D^{-1/2} \hat A \hat D^{-1/2} H^{(l)} W^{(l)}\right) + H^{(l)}

    with :math:`\hat A = A + I`. Bond features are not used (GCN has no edge features).

    Args:
        in_dim (int, optional): atom feature width. (default: ``ATOM_FEATURE_DIM``)
        hidden (int, optional): feature width. (default: :obj:`128`)
        num_layers (int, optional): graph convolutions. (default: :obj:`3`)
        dropout (float, optional): dropout after each convolution. (default: :obj:`0.0`)

    The returned :class:`AtomFeatures` cover heavy atoms only (``z`` from the graph), ``pos`` is None.
    """

    needs_graph = True
    needs_geometry = False

    def __init__(self, in_dim: int = ATOM_FEATURE_DIM, hidden: int = 128, num_layers: int = 3, dropout: float = 0.0):
        super().__init__()
        check_positive("GCN", hidden=hidden, in_dim=in_dim)
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
            raise InputError(f"GCN's num_layers must be a whole number >= 0, got {num_layers!r}")
        if not 0 <= dropout < 1:
            raise InputError(f"GCN's dropout must be in [0, 1), got {dropout!r}")
        self.out_dim = hidden
        self.lin_in = nn.Linear(in_dim, hidden)
        self.convs = nn.ModuleList(GCNConv(hidden, hidden) for _ in range(num_layers))
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def _nodes(self, batch: MolBatch):
        if batch.graph is None:
            raise ValueError("GCN needs 2D graphs (batch.graph is None); build batches with graph=True")
        return self.act(self.lin_in(batch.graph.x))

    def _conv(self, k: int, h, batch: MolBatch):
        return h + self.dropout(self.act(self.convs[k](h, batch.graph.edge_index)))

    def forward(self, batch: MolBatch) -> AtomFeatures:
        h = self._nodes(batch)
        for k in range(len(self.convs)):
            h = self._conv(k, h, batch)
        return dense_atom_features(h, batch)

    def stages(self) -> list:
        """Layer-wise view for cross-stitch (see :class:`molmtl.models.painn.PaiNN.stages`)."""
        def embed(state, batch):
            return dense_atom_features(self._nodes(batch), batch)

        def conv(k):
            return lambda state, batch: dense_atom_features(self._conv(k, state.h[state.mask], batch), batch)

        return [embed, *(conv(k) for k in range(len(self.convs)))]


__all__ = ["GCN"]
