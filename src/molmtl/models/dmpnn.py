"""Directed message passing (D-MPNN) on the 2D molecular graph, as in chemprop.

Yang et al., "Analyzing Learned Molecular Representations for Property Prediction", J. Chem. Inf.
Model. 59, 3370 (2019) (https://doi.org/10.1021/acs.jcim.9b00237). Hidden states live on directed
bonds; a bond's message excludes the state of its own reverse bond, which keeps a message from
echoing straight back ("totters"). Ours runs on the hydrogen-suppressed bond graph from SMILES
(``batch.graph``: atom and bond features of :mod:`molmtl.chem.features`, each bond as two
directed edges i->j, j->i stored next to each other), like GCN and MPNN, so it is a 2D model: no
geometry, no conformer to get wrong.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molmtl.chem.features import ATOM_FEATURE_DIM, BOND_FEATURE_DIM
from molmtl.errors import InputError
from molmtl.models.base import AtomFeatures, Encoder, MolBatch, check_positive
from molmtl.models.graph import dense_atom_features
from molmtl.models.registry import ENCODERS


def reverse_edges(n_edges: int, device=None) -> Tensor:
    """Index of each directed edge's reverse: the graphs store i->j and j->i next to each other,
    and batching keeps every graph's (even) edge count, so edge ``e``'s reverse is ``e ^ 1``."""
    return torch.arange(n_edges, device=device) ^ 1


@ENCODERS.register("dmpnn")
class DMPNN(Encoder):
    r"""Directed message passing on bonds (chemprop's D-MPNN), ``depth`` steps with shared weights.

    .. math::
        h_{vw}^0 = \mathrm{ReLU}(W_i [x_v \| e_{vw}]), \qquad
        h_{vw}^{t+1} = \mathrm{ReLU}\Big(h_{vw}^0 + W_h \big(\textstyle\sum_{k \in N(v)} h_{kv}^t - h_{wv}^t\big)\Big),

        h_v = \mathrm{ReLU}\Big(W_o \big[x_v \,\|\, \textstyle\sum_{k \in N(v)} h_{kv}^{T}\big]\Big)

    Args:
        in_dim (int, optional): atom feature width. (default: ``ATOM_FEATURE_DIM``)
        edge_dim (int, optional): bond feature width. (default: ``BOND_FEATURE_DIM``)
        hidden (int, optional): feature width. (default: :obj:`300`, chemprop's)
        depth (int, optional): message passing steps T (chemprop's depth counts the first bond
            states as a step: depth 3 here is its depth 3). (default: :obj:`3`)
        dropout (float, optional): dropout on the bond states and the atom outputs. (default: :obj:`0.0`)

    The returned :class:`AtomFeatures` cover heavy atoms only (``z`` from the graph), ``pos`` is None.
    """

    needs_graph = True
    needs_geometry = False

    def __init__(self, in_dim: int = ATOM_FEATURE_DIM, edge_dim: int = BOND_FEATURE_DIM, hidden: int = 300,
                 depth: int = 3, dropout: float = 0.0):
        super().__init__()
        check_positive("DMPNN", hidden=hidden, in_dim=in_dim, edge_dim=edge_dim)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise InputError(f"DMPNN's depth must be a whole number >= 1, got {depth!r}")
        if not 0 <= dropout < 1:
            raise InputError(f"DMPNN's dropout must be in [0, 1), got {dropout!r}")
        self.out_dim, self.depth = hidden, depth
        self.W_i = nn.Linear(in_dim + edge_dim, hidden, bias=False)
        self.W_h = nn.Linear(hidden, hidden, bias=False)
        self.W_o = nn.Linear(in_dim + hidden, hidden)
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, batch: MolBatch) -> AtomFeatures:
        g = batch.graph
        if g is None:
            raise ValueError("DMPNN needs 2D graphs (batch.graph is None); build batches with graph=True")
        x, (src, dst) = g.x, g.edge_index
        n, e = x.shape[0], src.shape[0]
        rev = reverse_edges(e, x.device)
        h0 = self.act(self.W_i(torch.cat([x[src], g.edge_attr.to(x.dtype)], dim=1)))
        h = h0
        for _ in range(self.depth - 1):
            incoming = h.new_zeros(n, h.shape[1]).index_add_(0, dst, h)  # sum over k of h_kv, per atom v
            h = self.dropout(self.act(h0 + self.W_h(incoming[src] - h[rev])))
        incoming = h.new_zeros(n, h.shape[1]).index_add_(0, dst, h)
        atoms = self.dropout(self.act(self.W_o(torch.cat([x, incoming], dim=1))))
        return dense_atom_features(atoms, batch)


__all__ = ["DMPNN", "reverse_edges"]
