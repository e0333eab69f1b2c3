"""Cross-task transfer: coefficients from fresh heads on frozen encoders; encoders trained on each
planted task alone carry their own factor, so the coefficients cluster into the planted groups."""

import numpy as np
import pytest
import torch

from molmtl.models.heads import make_head
from molmtl.mtl._parts import HeadBank
from molmtl.mtl.hard import HardSharing
from molmtl.relate.affinity import affinity_training
from molmtl.relate.cluster import hierarchical_groups
from molmtl.relate.heads import FitSettings, FrozenFeatures, fit_heads, validation_loss
from molmtl.relate.transfer import transfer_coefficients
from tests.relate.planted import (
    NAMES,
    PLANTED,
    TARGETS,
    ToyEncoder,
    epoch_batches,
    planted_data,
)

FIT = FitSettings(epochs=5, batch_size=32, lr=1e-2, loss="mse")


def _frozen(encoder, x) -> FrozenFeatures:
    with torch.no_grad():
        h = encoder.lin(x).unsqueeze(1)
    return FrozenFeatures(h=h, mask=torch.ones(len(x), 1, dtype=torch.bool), z=torch.ones(len(x), 1, dtype=torch.long))


def test_coefficients_divide_by_the_own_encoders_loss():
    losses = np.array([[0.5, 1.0, 2.0], [0.3, 0.1, 0.2], [4.0, 2.0, 1.0]])
    c = transfer_coefficients(losses)
    assert np.allclose(np.diag(c), 1.0)
    assert c[0, 2] == pytest.approx(4.0) and c[1, 0] == pytest.approx(3.0) and c[2, 1] == pytest.approx(2.0)


def test_single_task_encoders_of_planted_tasks_transfer_within_their_factor():
    x, y = planted_data(512, seed=0)
    xv, yv = planted_data(256, seed=1)
    losses = np.zeros((6, 6))
    for j, target in enumerate(TARGETS):
        torch.manual_seed(j)
        model = HardSharing([target], lambda: ToyEncoder(width=2, linear=True), make_head)
        # the toy task alone, trained by the same loop TAG uses (measuring switched off)
        affinity_training(model, epoch_batches(x, y[:, j:j + 1]), lambda t, b: t.float(), FIT, steps_per_epoch=16,
                          every=10**9)
        losses[:, j] = fit_heads(TARGETS, make_head, _frozen(model.encoder, x), y, _frozen(model.encoder, xv), yv, FIT)
    c = transfer_coefficients(losses)
    inside = c[np.ix_([0, 1, 2], [0, 1, 2])].max(), c[np.ix_([3, 4, 5], [3, 4, 5])].max()
    across = min(c[np.ix_([0, 1, 2], [3, 4, 5])].min(), c[np.ix_([3, 4, 5], [0, 1, 2])].min())
    assert max(inside) < 2.0 < 10.0 < across
    groups, info = hierarchical_groups((c + c.T) / 2, NAMES)
    assert groups == PLANTED and info["k"] == 2


def test_validation_loss_is_the_mean_over_labelled_entries_only():
    x, y = planted_data(40, seed=7)
    frozen = _frozen(ToyEncoder(width=3, linear=True), x)
    heads = HeadBank(TARGETS, make_head, 3).eval()
    holes = y.clone()
    holes[::4, 2] = float("nan")
    holes[5:, 4] = float("nan")
    with torch.no_grad():
        pred = heads(frozen.take(torch.arange(40)))
    want = [float(((pred[:, t] - holes[:, t]) ** 2)[~torch.isnan(holes[:, t])].mean()) for t in range(6)]
    assert validation_loss(heads, frozen, holes, "mse", batch_size=16) == pytest.approx(want, rel=1e-6)


def test_head_fitting_leaves_missing_labels_out():
    x, y = planted_data(256, seed=2)
    xv, yv = planted_data(128, seed=3)
    encoder = ToyEncoder(width=4, linear=True)
    with torch.no_grad():
        encoder.lin.weight.copy_(torch.eye(4, 6))
    holes = y.clone()
    holes[::3, 0] = float("nan")  # a third of a1's labels missing
    holes[:, 5] = float("nan")
    holes[:10, 5] = y[:10, 5]  # b3: only ten labels
    val_holes = yv.clone()
    val_holes[::2, 1] = float("nan")
    full = fit_heads(TARGETS, make_head, _frozen(encoder, x), y, _frozen(encoder, xv), yv, FIT)
    sparse = fit_heads(TARGETS, make_head, _frozen(encoder, x), holes, _frozen(encoder, xv), val_holes, FIT)
    assert np.isfinite(sparse).all()
    assert sparse[0] < 0.3 and sparse[1] < 0.3 and full[0] < 0.3  # a is a feature: learned (label variance ~1)
    assert sparse[5] > full[5]  # ten labels teach less
