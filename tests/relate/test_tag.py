"""TAG and gradient cosines from one run: the planted groups recovered, missing labels masked,
an interrupted run continued from its checkpoint to the same numbers."""

import numpy as np
import pytest
import torch

from molmtl.models.heads import make_head
from molmtl.mtl.hard import HardSharing
from molmtl.relate.affinity import AffinityStats, affinity_training, measure_step
from molmtl.relate.cluster import best_partition
from molmtl.relate.heads import FitSettings
from tests.relate.planted import (
    NAMES,
    PLANTED,
    TARGETS,
    ToyEncoder,
    batch_of,
    epoch_batches,
    planted_data,
)

FIT = FitSettings(epochs=5, batch_size=32, lr=1e-2, loss="mse")


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return HardSharing(TARGETS, lambda: ToyEncoder(width=8), make_head)


def _identity(y, batch):
    return y.float()


def test_tag_and_gradient_cosine_recover_the_planted_groups():
    x, y = planted_data(512)
    stats = affinity_training(_model(), epoch_batches(x, y), _identity, FIT, steps_per_epoch=16)
    tag, cos = stats.tag, stats.cosine
    assert stats.measured_steps == 80
    inside = [tag[i, j] for g in ((0, 1, 2), (3, 4, 5)) for i in g for j in g]
    across = [tag[i, j] for i in (0, 1, 2) for j in (3, 4, 5)] + [tag[j, i] for i in (0, 1, 2) for j in (3, 4, 5)]
    assert min(inside) > 0 and min(inside) > max(across)
    assert np.allclose(np.diag(cos), 1.0) and np.allclose(cos, cos.T)
    assert cos[0, 1] > 0.3 and cos[3, 4] > 0.3 and abs(cos[0, 4]) < 0.3
    assert best_partition(tag, NAMES)[0] == PLANTED
    assert best_partition(tag, NAMES, 2)[0] == PLANTED
    assert best_partition(cos, NAMES)[0] == PLANTED


def test_lookahead_affinity_is_the_relative_loss_drop_of_an_sgd_step():
    """One step by hand: Z_i->j = 1 - L_j(theta - eta g_i) / L_j(theta)."""
    x, y = planted_data(64, seed=4)
    model = _model(1)
    batch = batch_of(x, y)
    stats = AffinityStats(6)
    measure_step(model, batch, y.float(), "mse", 0.05, stats)
    grads = {}
    for i in range(6):
        model.zero_grad()
        loss = ((model(batch).pred[:, i] - y[:, i]) ** 2).mean()
        loss.backward()
        grads[i] = {n: p.grad.clone() for n, p in model.encoder.named_parameters()}
    with torch.no_grad():
        before = ((model(batch).pred - y) ** 2).mean(0)
        saved = {n: p.clone() for n, p in model.encoder.named_parameters()}
        for n, p in model.encoder.named_parameters():
            p -= 0.05 * grads[2][n]
        after = ((model(batch).pred - y) ** 2).mean(0)
        for n, p in model.encoder.named_parameters():
            p.copy_(saved[n])
    assert stats.tag[:, 2] == pytest.approx((1 - after / before).numpy(), rel=1e-4, abs=1e-7)
    g = [torch.cat([v.reshape(-1) for v in grads[i].values()]) for i in (0, 3)]
    assert stats.cosine[0, 3] == pytest.approx(float(torch.nn.functional.cosine_similarity(g[0], g[1], dim=0)), abs=1e-5)


def test_missing_labels_are_masked_and_pairs_count_only_labelled_steps():
    x, y = planted_data(256, seed=5)
    y = y.clone()
    y[:, 5] = float("nan")
    y[:4, 5] = planted_data(256, seed=5)[1][:4, 5]  # b3: four labels, so at most four of the eight batches an epoch
    y[::2, 0] = float("nan")
    stats = affinity_training(_model(), epoch_batches(x, y), _identity, FitSettings(epochs=2, batch_size=32, lr=1e-2),
                              steps_per_epoch=8)
    assert np.isfinite(stats.tag[:5, :5]).all() and np.isfinite(stats.cosine[:5, :5]).all()
    assert stats.tag_count[0, 1] == stats.measured_steps == 16
    assert 0 < stats.tag_count[5, 5] < 16  # b3 measured only where its labels are


def test_an_interrupted_run_continues_from_its_checkpoint(tmp_path):
    x, y = planted_data(256, seed=6)
    fit = FitSettings(epochs=3, batch_size=32, lr=1e-2)
    whole = affinity_training(_model(), epoch_batches(x, y), _identity, fit, steps_per_epoch=8)
    checkpoint, key = tmp_path / "checkpoint.pt", {"run": 1}
    first = FitSettings(epochs=2, batch_size=32, lr=1e-2)

    # the first two epochs, then "interrupted": the schedule is the 3-epoch one, the loop stops early
    class Stop(Exception):
        pass

    def batches(epoch):
        if epoch == 2:
            raise Stop
        return epoch_batches(x, y)(epoch)

    with pytest.raises(Stop):
        affinity_training(_model(), batches, _identity, fit, steps_per_epoch=8, checkpoint=checkpoint, key=key)
    assert checkpoint.is_file() and first.epochs == 2
    resumed = affinity_training(_model(), epoch_batches(x, y), _identity, fit, steps_per_epoch=8,
                                checkpoint=checkpoint, key=key)
    assert resumed.measured_steps == whole.measured_steps == 24
    assert np.allclose(resumed.tag, whole.tag, rtol=1e-5, atol=1e-9)
    other = affinity_training(_model(), epoch_batches(x, y), _identity, fit, steps_per_epoch=8,
                              checkpoint=checkpoint, key={"run": 2})  # another key: started afresh
    assert other.measured_steps == 24
