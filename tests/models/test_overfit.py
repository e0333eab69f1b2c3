"""Each encoder with hard sharing (one encoder, 19 heads) overfits 8 QM9 molecules on CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from molmtl.models.heads import make_head
from molmtl.models.normalize import TargetScaler
from molmtl.models.registry import ENCODERS
from molmtl.mtl._parts import HeadBank
from molmtl.targets import TARGETS

HPARAMS = {"gcn": {"hidden": 32}, "mpnn": {"hidden": 32}, "dmpnn": {"hidden": 32}, "painn": {"hidden": 32, "num_layers": 2}}
MAX_STEPS = 300


@pytest.mark.parametrize("name,stacked", [("gcn", False), ("mpnn", False), ("dmpnn", False), ("painn", False), ("painn", True)])
def test_overfits_one_batch(name, stacked, batch8):
    enc = ENCODERS.build(name, **HPARAMS[name])
    if stacked:  # the heads hard sharing trains: evaluated as one batched computation
        heads = HeadBank(TARGETS, make_head, enc.out_dim)
    else:
        heads = nn.ModuleList(make_head(t, enc.out_dim) for t in TARGETS)
    scaler = TargetScaler.fit(batch8.y, batch8.z, batch8.mask, TARGETS)
    target = scaler.normalize(batch8.y, batch8)
    opt = torch.optim.Adam([*enc.parameters(), *heads.parameters()], lr=5e-3)

    def loss_fn():
        f = enc(batch8)
        pred = heads(f) if stacked else torch.stack([h(f) for h in heads], dim=1)
        return ((pred - target) ** 2).mean()

    with torch.no_grad():
        first = float(loss_fn())
    for step in range(MAX_STEPS):  # stop as soon as the loss has dropped 10x (keeps CPU time low)
        opt.zero_grad()
        loss = loss_fn()
        if float(loss.detach()) < first / 10:
            break
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first / 10, (first, float(loss.detach()), step)
