"""HeadBank evaluates plain task heads stacked: same predictions and gradients as one by one."""

import numpy as np
import pytest
import torch

from molmtl.data.batching import PaddedDataset
from molmtl.models.heads import make_head, stackable, stacked_heads
from molmtl.models.painn import PaiNN
from molmtl.mtl._parts import HeadBank
from molmtl.targets import TARGETS


@pytest.fixture(scope="module")
def feats(qm9):
    torch.manual_seed(0)
    batch = PaddedDataset.from_qm9(qm9.subset(np.arange(0, 600, 60)), TARGETS).batch(slice(0, 10))
    return PaiNN(hidden=16, num_layers=1, n_rbf=8)(batch)


def _loop(bank, feats):
    return torch.stack([bank.head(k)(feats).reshape(-1) for k in bank.keys], dim=1)


@pytest.mark.parametrize("with_vec,head_hp", [(True, {}), (False, {}), (True, {"dipole_bias": True}),
                                              (True, {"dipole_bias": True, "dipole_bias_width": 0.4})])
def test_stacked_equals_per_head_values_and_gradients(feats, with_vec, head_hp):
    torch.manual_seed(1)
    bank = HeadBank(TARGETS, lambda t, d: make_head(t, d, **head_hp), 16)  # all 19: sum, mean and dipole readouts
    for p in bank.parameters():  # non-zero offsets and biases, so every term is exercised
        torch.nn.init.normal_(p, std=0.3)
    f = feats if with_vec else type(feats)(h=feats.h, mask=feats.mask, z=feats.z, pos=feats.pos, vec=None)
    assert stackable([bank.head(k) for k in bank.keys])
    fast, slow = bank(f), _loop(bank, f)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    w = torch.randn_like(slow)
    g_fast = torch.autograd.grad((fast * w).sum(), list(bank.parameters()), retain_graph=True, allow_unused=True)
    g_slow = torch.autograd.grad((slow * w).sum(), list(bank.parameters()), retain_graph=True, allow_unused=True)
    for a, b in zip(g_fast, g_slow):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_heads_that_cannot_be_stacked_fall_back(feats):
    heads = [make_head(TARGETS[0], 16, set2set=True), make_head(TARGETS[1], 16)]
    assert not stackable(heads) and not stackable([])
    assert not stackable([make_head(TARGETS[1], 16, hidden=8), make_head(TARGETS[2], 16)])
    bank = HeadBank(TARGETS[:2], lambda t, d: make_head(t, d, set2set=True), 16)
    torch.testing.assert_close(bank(feats), _loop(bank, feats))


def test_stacked_builds_its_index_tensors_when_not_given(feats):
    heads = [make_head(t, 16) for t in TARGETS]
    torch.testing.assert_close(stacked_heads(heads, feats), torch.stack([h(feats) for h in heads], 1),
                               rtol=1e-5, atol=1e-5)
