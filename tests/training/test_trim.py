"""``--trim-to``: device-resident batches cut to their largest molecule (rounded up), with the
same numbers as full-width batches, and the static compile's graph count."""

import json

import numpy as np
import pytest
import torch
from trainhelp import TASKS, tiny_config

from molmtl.cli import main
from molmtl.data.batching import PaddedDataset
from molmtl.inference import build_strategy
from molmtl.models.painn import PaiNN
from molmtl.mtl.base import masked_task_losses
from molmtl.targets import get_target
from molmtl.training.datamodule import PaddedLoader
from molmtl.training.module import allow_recompiles, static_shape_count


@pytest.fixture(scope="module")
def padded(qm9):
    """48 molecules spread over QM9 (3 to 27 atoms), padded to 29 atoms."""
    rows = np.arange(0, len(qm9), len(qm9) // 48)[:48]
    return PaddedDataset.from_qm9(qm9.subset(rows), [get_target(k) for k in TASKS], n_max=29)


def _pairs(padded, trim_to, **kw):
    """Batches of one loader epoch with and without trimming (the same molecules: same seed and window)."""
    full = PaddedLoader(padded, 8, shuffle=True, seed=3, sort_window=24, **kw)
    cut = PaddedLoader(padded, 8, shuffle=True, seed=3, sort_window=24, trim_to=trim_to, **kw)
    return list(zip(full, cut))


def test_trimmed_batches_give_the_same_outputs_losses_and_gradients(padded):
    from molmtl.models.normalize import TargetScaler

    torch.manual_seed(0)
    strategy = build_strategy(tiny_config(encoder_hp={"hidden": 16, "num_layers": 2, "n_rbf": 8}))
    scaler = TargetScaler.fit(padded.y, padded.z, padded.mask, [get_target(k) for k in TASKS])
    widths = set()
    for full, cut in _pairs(padded, 8):
        assert full.z.shape[1] == 29 and torch.equal(full.y, cut.y)
        largest = int(cut.mask.sum(1).max())
        width = cut.z.shape[1]
        widths.add(width)
        assert (width % 8 == 0 or width == 29) and largest <= width < largest + 8
        assert torch.equal(full.z[:, :width], cut.z) and not full.mask[:, width:].any()
        grads = []
        for batch in (full, cut):
            strategy.zero_grad(set_to_none=True)
            pred = strategy(batch).pred
            losses = masked_task_losses(pred, scaler.normalize(batch.y, batch), "l1")
            losses.sum().backward()
            grads.append((pred.detach(), losses.detach(), [p.grad.clone() for p in strategy.parameters()]))
        (p0, l0, g0), (p1, l1, g1) = grads
        torch.testing.assert_close(p1, p0, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(l1, l0, rtol=1e-5, atol=1e-6)
        for a, b in zip(g1, g0):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert len(widths) >= 2  # sorted windows: narrow and wide batches


def test_trimmed_loader_keeps_the_ddp_shares(padded):
    shares = []
    for rank in (0, 1, 2):
        loader = PaddedLoader(padded, 5, shuffle=True, seed=1, rank=rank, world=3, trim_to=4, sort_window=10)
        batches = list(loader)
        assert len(batches) == len(loader) == 4  # 48 molecules / 3 processes = 16 each, in batches of 5
        for b in batches:
            assert b.z.shape[1] % 4 == 0 or b.z.shape[1] == 29
            assert b.z.shape[1] >= int(b.mask.sum(1).max())
        shares.append(sorted(tuple(r.tolist()) for b in batches for r in b.y))
    assert sum(len(s) for s in shares) == 48 and len(set().union(*shares)) == 48  # each molecule exactly once


def test_static_compile_graphs_per_shape_stay_under_the_recompile_limit(padded):
    """torch.compile(dynamic=False) builds one graph per batch shape and per training/inference
    mode; a run's count is within :func:`static_shape_count`, which the module sets as limit."""
    from torch._dynamo.testing import CompileCounter

    cfg = torch._dynamo.config
    name = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"
    with cfg.patch(**{name: 8}):  # restored on exit (monkeypatch would delete the setting)
        allow_recompiles(static_shape_count(8))
        assert getattr(cfg, name) == 16
        allow_recompiles(4)  # never lowered
        assert getattr(cfg, name) == 16

        torch._dynamo.reset()
        encoder = PaiNN(hidden=8, num_layers=1, n_rbf=4)
        counter = CompileCounter()
        layers = torch.compile(encoder._layers, dynamic=False, backend=counter)
        train = PaddedLoader(padded, 20, shuffle=True, seed=0, trim_to=8, sort_window=48)  # 20 + 20 + 8 molecules
        val = PaddedLoader(padded, 20, shuffle=False, trim_to=8)
        shapes = set()
        for _ in range(3):
            for b in train:
                layers(b.z, b.pos, b.mask)
                shapes.add(("train", *b.z.shape))
            with torch.inference_mode():
                for b in val:
                    layers(b.z, b.pos, b.mask)
                    shapes.add(("val", *b.z.shape))
        assert len(shapes) >= 4 and counter.frame_count == len(shapes) <= static_shape_count(8)
        torch._dynamo.reset()


def test_train_cli_with_device_data_and_trim(tmp_path, capsys):
    run = tmp_path / "run"
    tiny = ["--encoder", "painn", "--hidden", "8", "--layers", "1", "--tasks", "U0,homo", "--max-molecules", "48",
            "--batch-size", "8", "--accelerator", "cpu", "--no-progress", "--epochs", "2"]
    assert main(["-q", "train", "--out", str(run), *tiny, "--trim-to", "8"]) == 2  # without --device-data
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "--device-data" in err, err
    assert main(["-q", "train", "--out", str(run), *tiny, "--device-data", "--trim-to", "8", "--message", "elementwise"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["device_data"] and config["trim_to"] == 8 and config["sort_window"] == 16 * 8
    assert config["encoder_hp"]["message"] == "elementwise"
    assert (run / "model.pt").is_file()
    assert main(["-q", "train", "--out", str(run), "--resume", "--trim-to", "4"]) == 2
    assert "--trim-to" in capsys.readouterr().err
