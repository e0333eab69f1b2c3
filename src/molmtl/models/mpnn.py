"""Gilmer et al.'s edge-network MPNN on the 2D molecular graph.

Gilmer, Schoenholz, Riley, Vinyals and Dahl, "Neural Message Passing for Quantum Chemistry",
ICML 2017 (https://arxiv.org/abs/1704.01212). The width (64) and the three message steps with a
shared edge network and GRU follow PyG's ``examples/qm9_nn_conv.py``, the encoder of the
LibMTL / Nash-MTL QM9 benchmark. One difference: that benchmark runs on PyG's QM9 graphs (all
atoms, hydrogens included, complete graph with distances as edge features); ours runs on the
hydrogen-suppressed bond graph from SMILES (``batch.graph``, bond features of
:mod:`molmtl.chem.features`), so it is a 2D model like GCN.

Set2Set, the paper's readout, is not part of the encoder: the encoder returns per-atom features
like every other encoder, and ``make_head(..., set2set=True)`` puts a Set2Set readout in a task
head (the default heads use the target's sum/mean/dipole readout).
"""

from __future__ import annotations

from typing import Literal

from torch import nn
from torch_geometric.nn import NNConv

from molmtl.chem.features import ATOM_FEATURE_DIM, BOND_FEATURE_DIM
from molmtl.errors import InputError
from molmtl.models.base import AtomFeatures, Encoder, MolBatch, check_positive
from molmtl.models.graph import dense_atom_features
from molmtl.models.registry import ENCODERS


@ENCODERS.register("mpnn")
class MPNN(Encoder):
    r"""Edge-conditioned convolution + GRU, ``steps`` times with shared weights.

    .. math::
        m_i^{t+1} = \frac{1}{|N(i)|} \sum_{j \in N(i)} A(e_{ij})\, h_j^t + W h_i^t, \qquad
        h_i^{t+1} = \mathrm{GRU}(h_i^t, \mathrm{ReLU}(m_i^{t+1}))

    where :math:`A(e_{ij})` is an MLP mapping bond features to a ``hidden x hidden`` matrix.

    Args:
        in_dim (int, optional): atom feature width. (default: ``ATOM_FEATURE_DIM``)
        edge_dim (int, optional): bond feature width. (default: ``BOND_FEATURE_DIM``)
        hidden (int, optional): feature width. (default: :obj:`64`)
        steps (int, optional): message passing steps T. (default: :obj:`3`)
        aggr (str, optional): ``"mean"`` or ``"add"``. (default: :obj:`"mean"`)

    The returned :class:`AtomFeatures` cover heavy atoms only (``z`` from the graph), ``pos`` is None.
    """

    needs_graph = True
    needs_geometry = False

    def __init__(self, in_dim: int = ATOM_FEATURE_DIM, edge_dim: int = BOND_FEATURE_DIM, hidden: int = 64,
                 steps: int = 3, aggr: Literal["mean", "add"] = "mean"):
        super().__init__()
        if aggr not in ("mean", "add"):
            raise InputError(f"MPNN's aggr must be 'mean' or 'add', not {aggr!r}")
        check_positive("MPNN", hidden=hidden, in_dim=in_dim, edge_dim=edge_dim)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise InputError(f"MPNN's steps must be a whole number >= 0, got {steps!r}")
        self.out_dim, self.steps = hidden, steps
        self.lin_in = nn.Linear(in_dim, hidden)
        edge_net = nn.Sequential(nn.Linear(edge_dim, 128), nn.ReLU(), nn.Linear(128, hidden * hidden))
        self.conv = NNConv(hidden, hidden, edge_net, aggr=aggr)
        self.gru = nn.GRU(hidden, hidden)
        self.act = nn.ReLU()

    def _nodes(self, batch: MolBatch):
        if batch.graph is None:
            raise ValueError("MPNN needs 2D graphs (batch.graph is None); build batches with graph=True")
        return self.act(self.lin_in(batch.graph.x))

    def _step(self, h, batch: MolBatch):
        """One message + GRU step; a one-layer GRU's hidden state is its output, so ``h`` carries it."""
        g = batch.graph
        m = self.act(self.conv(h, g.edge_index, g.edge_attr))
        out, _ = self.gru(m.unsqueeze(0), h.unsqueeze(0))
        return out.squeeze(0)

    def forward(self, batch: MolBatch) -> AtomFeatures:
        h = self._nodes(batch)
        for _ in range(self.steps):
            h = self._step(h, batch)
        return dense_atom_features(h, batch)

    def stages(self) -> list:
        """Layer-wise view for cross-stitch (see :class:`molmtl.models.painn.PaiNN.stages`)."""
        def embed(state, batch):
            return dense_atom_features(self._nodes(batch), batch)

        def step(state, batch):
            return dense_atom_features(self._step(state.h[state.mask], batch), batch)

        return [embed, *([step] * self.steps)]


__all__ = ["MPNN"]
