"""Resumes and the weights' moving average (``--ema``): a stopped and resumed run ends where the
uninterrupted run ends (data order, average, schedule); the EMA update; validation, checkpoints
and the model file use the average; the plateau schedule's cut."""

import numpy as np
import pytest
import torch
from trainhelp import monitored_loss, tiny_config

from molmtl.inference import read_model_file
from molmtl.training.callbacks import EMADecay
from molmtl.training.run import train


def test_ema_update_follows_the_warmed_up_recurrence():
    ema = EMADecay(0.9)
    assert ema.beta(1) == pytest.approx(2 / 11) and ema.beta(8) == pytest.approx(0.5) and ema.beta(10**6) == 0.9
    gen = torch.Generator().manual_seed(0)
    steps = [[torch.randn(3, 2, generator=gen), torch.randn(4, generator=gen)] for _ in range(30)]
    averaged = [t.clone() for t in steps[0]]  # AveragedModel copies the weights at its first update
    for n, current in enumerate(steps[1:], start=1):
        ema(averaged, current, torch.tensor(n))
    expected = [t.clone() for t in steps[0]]
    for n, current in enumerate(steps[1:], start=1):
        beta = min(0.9, (1 + n) / (10 + n))
        expected = [beta * e + (1 - beta) * c for e, c in zip(expected, current)]
    for a, e in zip(averaged, expected):
        torch.testing.assert_close(a, e, rtol=1e-6, atol=1e-6)
    # a resumed run's fresh EMADecay takes its count from n_averaged, once
    resumed, part = EMADecay(0.9), [t.clone() for t in steps[0]]
    resumed(part, steps[1], torch.tensor(100))  # beta(100) = 0.9
    torch.testing.assert_close(part[0], 0.9 * steps[0][0] + 0.1 * steps[1][0])
    assert resumed.updates == 101


def _strategy_part(state: dict) -> dict:
    return {k[len("strategy."):]: v for k, v in state.items() if k.startswith("strategy.")}


def test_ema_run_validates_checkpoints_and_saves_the_average(tmp_path):
    result = train(tiny_config(ema=0.9, epochs=3, max_molecules=32, batch_size=8, lr=3e-3), tmp_path, progress=False)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    average, current = _strategy_part(last["state_dict"]), _strategy_part(last["current_model_state"])
    assert average.keys() == current.keys()
    moved = max(float((average[k] - current[k]).abs().max()) for k in average)
    assert moved > 1e-4  # the average lags the trained weights: two different states are kept
    stored = read_model_file(result.model_path)["strategy_state"]
    for key, value in _strategy_part(best["state_dict"]).items():
        torch.testing.assert_close(stored[key], value)  # the model file holds the best epoch's average
    # the loss that chose the best epoch was measured on the average: it is the stored model's
    assert monitored_loss(best) == pytest.approx(result.metrics["val_loss"], rel=1e-4)


@pytest.mark.parametrize("ema, device_data, schedule", [(0.9, False, "cosine"), (0.9, True, "cosine"),
                                                       (0.0, False, "cosine"), (0.9, True, "plateau")])
def test_a_resumed_run_ends_where_the_uninterrupted_run_ends(tmp_path, ema, device_data, schedule):
    # the weights (and their average) after epoch 3 are the same whether the run stopped after
    # epoch 1 and resumed or not: the average and its update count are restored, and every epoch
    # shuffles by its own number (before, a resumed run replayed epoch 1's order)
    cfg = tiny_config(ema=ema, epochs=3, max_molecules=16, batch_size=8, lr=3e-3, device_data=device_data,
                      schedule=schedule)
    whole = train(cfg, tmp_path / "whole", progress=False)
    first = train(cfg, tmp_path / "parts", progress=False, time_limit=1e-3)  # stops after epoch 1
    assert first.metrics["epochs"] == 1
    parts = train(cfg, tmp_path / "parts", resume=True, progress=False)
    for name in ("last.ckpt", "best.ckpt"):  # last: the average after epoch 3, whichever epoch was best
        a, b = (torch.load(tmp_path / run / "checkpoints" / name, map_location="cpu", weights_only=False)["state_dict"]
                for run in ("whole", "parts"))
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([r["mae"] for r in whole.metrics["test"]], [r["mae"] for r in parts.metrics["test"]],
                               rtol=1e-5)


def test_plateau_schedule_cuts_the_learning_rate_when_validation_stalls(tmp_path):
    # a learning rate too small to move the validation loss by the scheduler's threshold (1e-4
    # relative): the second epoch stalls, and with patience 0 it halves the rate
    train(tiny_config(schedule="plateau", plateau_patience=0, plateau_factor=0.5, lr=1e-7, epochs=2, ema=0.9,
                      max_molecules=16, batch_size=8), tmp_path, progress=False)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(0.5e-7, rel=1e-9, abs=0)
    # the first epoch sets the best loss and cuts nothing
    train(tiny_config(schedule="plateau", plateau_patience=0, plateau_factor=0.5, lr=1e-7, epochs=1, ema=0.9,
                      max_molecules=16, batch_size=8), tmp_path / "one", progress=False)
    last = torch.load(tmp_path / "one" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(1e-7, rel=1e-9, abs=0)
