"""Encoder registry and the 2D encoders (GCN, MPNN, D-MPNN): shapes, padding and order invariance."""

from __future__ import annotations

import pytest
import torch

from molmtl.data.batching import collate
from molmtl.errors import InputError
from molmtl.models.base import Encoder, MolBatch
from molmtl.models.dmpnn import DMPNN, reverse_edges
from molmtl.models.gcn import GCN
from molmtl.models.heads import make_head
from molmtl.models.mpnn import MPNN
from molmtl.models.painn import PaiNN
from molmtl.models.registry import ENCODERS
from molmtl.targets import TARGETS


def test_registry():
    assert set(ENCODERS) == {"dmpnn", "gcn", "mpnn", "painn"}
    assert isinstance(ENCODERS.build("PaiNN", hidden=16), PaiNN)
    assert ENCODERS.build("mpnn").out_dim == 64
    assert (GCN.needs_graph, MPNN.needs_graph, PaiNN.needs_graph) == (True, True, False)
    assert (GCN.needs_geometry, MPNN.needs_geometry, PaiNN.needs_geometry) == (False, False, True)
    assert (DMPNN.needs_graph, DMPNN.needs_geometry) == (True, False)
    with pytest.raises(InputError, match="dmpnn, gcn, mpnn, painn"):
        ENCODERS.build("schnet")


def _predict(enc, heads, batch):
    f = enc(batch)
    return torch.stack([h(f) for h in heads], dim=1)


@pytest.mark.parametrize("name", ["gcn", "mpnn", "dmpnn"])
def test_2d_shapes_padding_and_order(name, dataset8):
    enc: Encoder = ENCODERS.build(name).eval()
    heads = [make_head(t, enc.out_dim).eval() for t in TARGETS]
    items = [dataset8[i] for i in range(len(dataset8))]
    batch = collate(items, graph=True, geometry=False)
    feats = enc(batch)
    n_heavy = torch.bincount(batch.graph.batch, minlength=len(items))
    assert feats.h.shape == (8, int(n_heavy.max()), enc.out_dim)
    assert feats.mask.sum(1).tolist() == n_heavy.tolist() and feats.pos is None
    assert (feats.z[feats.mask] > 1).all()
    together = _predict(enc, heads, batch)
    assert together.shape == (8, 19) and torch.isfinite(together).all()
    for i in (0, 5):  # alone vs in a padded batch
        alone = _predict(enc, heads, collate([items[i]], graph=True, geometry=False))
        assert torch.allclose(alone[0], together[i], atol=1e-4, rtol=1e-4)
    order = [7, 2, 5, 0, 1, 6, 3, 4]  # molecule order in the batch does not matter
    shuffled = _predict(enc, heads, collate([items[i] for i in order], graph=True, geometry=False))
    assert torch.allclose(shuffled, together[order], atol=1e-4, rtol=1e-4)


def test_painn_molecule_order(dataset8):
    enc = ENCODERS.build("painn", hidden=16, num_layers=1).eval()
    items = [dataset8[i] for i in range(len(dataset8))]
    a = enc(collate(items, graph=False, geometry=True)).h
    b = enc(collate(items[::-1], graph=False, geometry=True)).h
    assert torch.allclose(a, b.flip(0), atol=1e-5)


@pytest.mark.parametrize("name", ["gcn", "mpnn", "dmpnn"])
def test_2d_encoder_needs_graph(name, batch8):
    with pytest.raises(ValueError, match="2D graphs"):
        ENCODERS.build(name)(MolBatch(batch8.z, batch8.pos, batch8.mask))


@pytest.mark.parametrize("name", ["gcn", "mpnn", "dmpnn", "painn"])
def test_reset_parameters_changes_weights(name):
    enc = ENCODERS.build(name)
    before = [p.detach().clone() for p in enc.parameters()]
    enc.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, enc.parameters()))


@pytest.mark.parametrize("name", ["gcn", "mpnn", "dmpnn", "painn"])
def test_one_heavy_atom_molecules(name, qm9):
    # methane, ammonia, water: one node and no bonds in the 2D graph
    from molmtl.data.batching import MolDataset

    small = qm9.subset([qm9.position_of_index(i) for i in (1, 2, 3)])
    ds = MolDataset(small, graph=True, geometry=True)
    batch = collate([ds[i] for i in range(3)], graph=True, geometry=True)
    enc = ENCODERS.build(name, **({"hidden": 16} if name != "mpnn" else {})).eval()
    feats = enc(batch)
    pred = torch.stack([make_head(t, enc.out_dim)(feats) for t in TARGETS], dim=1)
    assert torch.isfinite(pred).all() and pred.shape == (3, 19)


def test_dmpnn_edges_come_in_reverse_pairs(batch8):
    # the reverse-edge rule e ^ 1 holds in a batch: edge e runs i->j and edge e ^ 1 runs j->i
    src, dst = batch8.graph.edge_index
    rev = reverse_edges(src.shape[0])
    assert torch.equal(src[rev], dst) and torch.equal(dst[rev], src)


class _OneGraph:
    """The part of a MolBatch a 2D encoder reads, for a single hand-made graph."""

    def __init__(self, graph):
        self.graph = graph

    def __len__(self):
        return 1


def test_dmpnn_message_excludes_the_reverse_bond():
    # two atoms, one bond: a bond's message is the sum into its source atom minus its own reverse
    # bond, which leaves nothing, so whatever the depth the bond states stay h0 and each atom
    # reads its neighbour's bond: h_v = ReLU(W_o [x_v || h0_{w->v}])
    from types import SimpleNamespace

    enc = DMPNN(in_dim=3, edge_dim=2, hidden=4, depth=3).eval()
    x = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]])
    graph = SimpleNamespace(x=x, edge_index=torch.tensor([[0, 1], [1, 0]]), edge_attr=torch.ones(2, 2),
                            batch=torch.zeros(2, dtype=torch.long), z=torch.tensor([6, 8]))
    with torch.no_grad():
        h0 = torch.relu(enc.W_i(torch.cat([x, graph.edge_attr], 1)))  # edge 0: 0->1, edge 1: 1->0
        expected = torch.relu(enc.W_o(torch.cat([x, h0[[1, 0]]], 1)))
        feats = enc(_OneGraph(graph))
    assert torch.allclose(feats.h[0], expected, atol=1e-6)
    assert feats.z[0].tolist() == [6, 8] and feats.mask.all()
