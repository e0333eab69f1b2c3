"""Batching: MolDataset + collate (padding, labels, graphs), PaddedDataset, pickling, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from molmtl.chem.features import ATOM_FEATURE_DIM, graph_from_smiles
from molmtl.chem.molecule import Molecule
from molmtl.data.batching import (
    MolDataset,
    PaddedDataset,
    build_graphs,
    cached_graphs,
    collate,
    make_collate,
)
from molmtl.errors import InputError
from molmtl.targets import TARGET_KEYS, get_target


def test_collate_pads_to_largest_and_keeps_labels(qm9_small):
    ds = MolDataset(qm9_small, targets=("U0", "homo"), geometry=True)
    items = [ds[i] for i in (0, 5, 20)]
    b = collate(items, graph=False, geometry=True)
    n = qm9_small.n_atoms[[0, 5, 20]]
    assert b.z.shape == (3, n.max()) and b.pos.shape == (3, n.max(), 3)
    assert b.mask.sum(1).tolist() == n.tolist()
    assert (b.z[~b.mask] == 0).all() and (b.pos[~b.mask] == 0).all()
    assert b.y.dtype == torch.float64
    expected = qm9_small.targets[[0, 5, 20]][:, [get_target("U0").index, get_target("homo").index]]
    assert np.array_equal(b.y.numpy(), expected)
    z5, pos5 = qm9_small.atoms(5)
    assert np.array_equal(b.z[1, : len(z5)].numpy(), z5)
    assert np.allclose(b.pos[1, : len(z5)].numpy(), pos5, atol=1e-6)
    assert b.graph is None and len(b) == 3


def test_graphs_match_smiles_featurization(qm9_small):
    ds = MolDataset(qm9_small.subset(np.arange(6)), graph=True, geometry=False)
    b = collate([ds[i] for i in range(6)], graph=True, geometry=False)
    assert b.pos is None and b.graph.num_graphs == 6
    g3 = graph_from_smiles(qm9_small.canonical_smiles[3])
    sel = b.graph.batch == 3
    assert np.array_equal(b.graph.x[sel].numpy(), g3.x)
    assert np.array_equal(b.graph.z[sel].numpy(), g3.z)
    assert b.graph.x.shape[1] == ATOM_FEATURE_DIM
    # edges stay inside their own molecule
    assert torch.equal(b.graph.batch[b.graph.edge_index[0]], b.graph.batch[b.graph.edge_index[1]])


def test_graph_disk_cache(tmp_path, qm9_small):
    smiles = list(qm9_small.canonical_smiles[:5])
    first = cached_graphs(smiles, folder=tmp_path)
    assert len(list(tmp_path.glob("graphs-*-v1.npz"))) == 1
    again = cached_graphs(smiles, folder=tmp_path)
    assert np.array_equal(first.x, again.x) and np.array_equal(first.edge_offsets, again.edge_offsets)
    # another element vocabulary is another file, with wider one-hots; QM9's columns keep their places
    wide = cached_graphs(smiles, folder=tmp_path, elements=(1, 6, 7, 8, 9, 16, 17))
    assert len(list(tmp_path.glob("graphs-*-v1.npz"))) == 2 and wide.x.shape[1] == first.x.shape[1] + 2
    assert np.array_equal(wide.x[:, :5], first.x[:, :5]) and np.array_equal(wide.x[:, 8:], first.x[:, 6:])


def test_unreadable_smiles_falls_back_or_raises():
    g = build_graphs(["C1CC"], atomic_numbers=[np.array([6, 6, 6, 1, 1])])  # unclosed ring
    assert len(g) == 1 and g.x.shape[0] == 3 and g.edge_index.shape[1] == 0
    with pytest.raises(InputError):
        build_graphs(["C1CC"])


def test_padded_dataset_matches_collate(qm9_small):
    padded = PaddedDataset.from_qm9(qm9_small, targets=TARGET_KEYS, n_max=29)
    assert padded.z.shape == (40, 29)
    ds = MolDataset(qm9_small)
    b = collate([ds[i] for i in range(4)], graph=False, geometry=True)
    n = b.z.shape[1]
    s = padded.batch(slice(0, 4))
    assert torch.equal(s.z[:, :n], b.z) and torch.equal(s.pos[:, :n], b.pos) and torch.equal(s.y, b.y)
    assert not s.mask[:, n:].any()
    sizes = [len(x) for x in padded.batches(16, shuffle=True, generator=torch.Generator().manual_seed(0))]
    assert sizes == [16, 16, 8]
    assert [len(x) for x in padded.batches(16, drop_last=True)] == [16, 16]
    with pytest.raises(InputError, match="n_max"):
        PaddedDataset.from_qm9(qm9_small, n_max=5)


def test_dataset_pickles_and_works_with_dataloader(qm9_small):
    ds = MolDataset(qm9_small.subset(np.arange(10)), graph=True, geometry=True)
    clone = pickle.loads(pickle.dumps(ds))
    collate_fn = pickle.loads(pickle.dumps(make_collate(graph=True, geometry=True)))
    batches = list(DataLoader(clone, batch_size=4, collate_fn=collate_fn))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert batches[0].graph.num_graphs == 4 and batches[0].y.shape == (4, 19)


def test_user_molecules_with_sparse_labels():
    water = Molecule([8, 1, 1], [[0, 0, 0.12], [0, 0.76, -0.47], [0, -0.76, -0.47]], smiles="O", name="water")
    methane = Molecule([6, 1, 1, 1, 1], np.array([[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63],
                                                  [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]]), smiles="C")
    ds = MolDataset([water, methane], targets=("U0", "mu"), labels=[[-2079.9, 1.9], [np.nan, 0.0]], graph=True)
    b = collate([ds[0], ds[1]], graph=True, geometry=True)
    assert b.z.tolist() == [[8, 1, 1, 0, 0], [6, 1, 1, 1, 1]]
    assert torch.isnan(b.y[1, 0]) and b.y[0, 1] == 1.9
    assert b.graph.z.tolist() == [8, 6]  # heavy atoms only
    unlabeled = MolDataset([water], geometry=True)
    assert collate([unlabeled[0]], graph=False, geometry=True).y is None


def test_bad_input_raises_input_error():
    flat = Molecule([6, 1, 1, 1, 1], None, smiles="C", name="methane")
    with pytest.raises(InputError, match="no 3D geometry"):
        MolDataset([flat], geometry=True)
    no_smiles = Molecule([8, 1, 1], np.zeros((3, 3)), name="xyz water")
    with pytest.raises(InputError, match="no SMILES"):
        MolDataset([no_smiles], graph=True)
    ds = MolDataset([flat], geometry=False)
    with pytest.raises(InputError, match="2D graphs"):
        collate([ds[0]], graph=True, geometry=False)


def test_padded_batches_trim_and_sort(qm9_small):
    padded = PaddedDataset.from_qm9(qm9_small, n_max=29)
    g = torch.Generator().manual_seed(1)
    batches = list(padded.batches(8, shuffle=True, generator=g, trim_to=8, sort_window=40))
    assert sorted(len(b) for b in batches) == [8] * 5
    seen = []
    for b in batches:
        assert b.z.shape[1] % 8 == 0 or b.z.shape[1] == 29
        assert b.z.shape[1] >= int(b.mask.sum(1).max()) and b.z.shape[1] - int(b.mask.sum(1).max()) < 8
        assert b.y.shape == (8, 19)
        seen += [tuple(row.tolist()) for row in b.y[:, :2]]
    assert len(set(seen)) == 40  # every molecule exactly once
    sizes = [b.mask.sum(1) for b in batches]
    assert all(int(s.max() - s.min()) <= int(padded.n_atoms.max() - padded.n_atoms.min()) for s in sizes)
    # sorted windows make batches narrower on average than random ones
    random = list(padded.batches(8, shuffle=True, generator=torch.Generator().manual_seed(1), trim_to=1))
    assert sum(b.z.shape[1] for b in list(padded.batches(8, shuffle=True, generator=g, trim_to=1, sort_window=40))) \
        <= sum(b.z.shape[1] for b in random)


def test_qm9_dataset_refuses_a_users_own_target(qm9_small):
    from molmtl.targets import custom_target, get_target

    with pytest.raises(InputError, match="QM9 has no labels for logS"):
        MolDataset(qm9_small, [get_target("U0"), custom_target("logS")])
