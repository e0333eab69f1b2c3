"""The strategies with the package's own encoders and heads on 8 QM9 molecules."""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pytest
import torch

from molmtl.data.batching import MolDataset, collate
from molmtl.models.heads import make_head
from molmtl.models.registry import ENCODERS
from molmtl.mtl.base import masked_task_losses
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS
from molmtl.mtl.stages import encoder_stages

SMALL = {"painn": {"hidden": 16, "num_layers": 2}, "gcn": {"hidden": 16}, "mpnn": {"hidden": 16, "steps": 2}}


@pytest.fixture(scope="module")
def qm9_batch():
    from molmtl.data.qm9 import load_qm9

    ds = MolDataset(load_qm9().subset(np.arange(0, 4000, 500)), graph=True, geometry=True)
    return collate([ds[i] for i in range(len(ds))], graph=True, geometry=True)


@pytest.mark.parametrize("name", SMALL)
def test_stage_adapters_reproduce_the_encoder(name, qm9_batch):
    torch.manual_seed(0)
    enc = ENCODERS.build(name, **SMALL[name])
    ref, state = enc(qm9_batch), None
    for stage in encoder_stages(enc):
        state = stage(state, qm9_batch)
    assert torch.equal(ref.mask, state.mask)
    assert torch.allclose(ref.h, state.h, atol=1e-6)
    if ref.vec is not None:
        assert torch.allclose(ref.vec, state.vec, atol=1e-6)


@pytest.mark.parametrize("strategy", ["hard", "cross-stitch", "mrn"])
def test_painn_strategies_train_with_upgrad(strategy, qm9_batch):
    torch.manual_seed(0)
    tasks = ["mu", "homo", "U0"]
    model = STRATEGIES.build(strategy, tasks=tasks, encoder_factory=partial(ENCODERS.build, "painn", **SMALL["painn"]),
                          head_factory=make_head)
    balancer = WEIGHTINGS.build("upgrad", n_tasks=3)
    y = qm9_batch.y[:, [0, 2, 7]].float()
    y = (y - y.mean(0)) / y.std(0)  # normalized units, as the training loop feeds strategies
    opt = torch.optim.Adam([*model.parameters(), *balancer.parameters()], lr=5e-3)
    history = []
    for _ in range(20):
        opt.zero_grad(set_to_none=True)
        out = model(qm9_batch)
        losses = masked_task_losses(out.pred, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            balancer.backward(losses, model, out, model.penalty())
        opt.step()
        model.on_after_step()
        history.append(float(losses.detach().sum()))
    assert out.pred.shape == (8, 3)
    assert history[-1] < 0.5 * history[0], history
