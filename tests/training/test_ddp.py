"""DDP: two CPU processes (gloo) train one model; evaluation counts each molecule once."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from trainhelp import monitored_loss

from molmtl.data.batching import MolDataset, PaddedDataset, collate
from molmtl.data.qm9 import load_qm9
from molmtl.training.datamodule import EvalShard, PaddedLoader
from molmtl.training.run import route_lightning_logs


def _labelled(batches) -> list[float]:
    return [v for b in batches for v in b.y[:, 0].tolist() if not np.isnan(v)]


def test_eval_shards_hold_each_molecule_once_and_the_same_number_of_batches():
    qm9 = load_qm9().subset(np.arange(23))
    ds = MolDataset(qm9, ["U0", "homo"])
    shard = EvalShard(ds, 24)
    assert len(shard) == 24 and np.isnan(shard[23]["y"]).all() and shard[23]["z"].tolist() == ds[0]["z"].tolist()
    assert np.array_equal(shard[5]["y"], ds[5]["y"])
    parts = [[shard[i] for i in range(r, 24, 2)] for r in (0, 1)]
    labels = sorted(v for p in parts for it in p for v in [it["y"][0]] if not np.isnan(v))
    assert labels == sorted(ds.y[:, 0].tolist())

    padded = PaddedDataset.from_qm9(qm9, ["U0"])
    for world, bs in ((2, 5), (3, 4), (4, 6)):
        loaders = [PaddedLoader(padded, bs, shuffle=False, rank=r, world=world) for r in range(world)]
        assert len({len(list(ld)) for ld in loaders}) == 1  # equal steps: no process waits on another
        seen = [v for ld in loaders for v in _labelled(ld)]
        assert sorted(seen) == sorted(padded.y[:, 0].tolist()), world  # each molecule once, repeats unlabelled
    # training keeps DistributedSampler's labelled repeats (they only add gradient samples)
    shuffled = [PaddedLoader(padded, 4, shuffle=True, seed=1, rank=r, world=2) for r in (0, 1)]
    assert len([v for ld in shuffled for v in _labelled(ld)]) == 24
    assert collate([shard[23]], graph=False, geometry=True).y.isnan().all()


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])  # molmtl, molmtl -q
def test_lightning_lines_print_once_without_the_litlogger_tip(capsys, level):
    import lightning  # noqa: F401  (gives the "lightning" logger its own console handler, at INFO)

    root = logging.getLogger()
    saved, saved_level = list(root.handlers), root.level  # an earlier CLI test's handler may write to a closed capture stream
    handler = logging.StreamHandler(sys.stderr)
    root.handlers = [handler]
    root.setLevel(level)
    try:
        route_lightning_logs()
        route_lightning_logs()  # idempotent
        rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
        rank_zero.info("GPU available: False, used: False")
        rank_zero.info("Tip: try installing [litlogger](https://pypi.org/project/litlogger/)")
        rank_zero.warning("a warning")
    finally:
        root.handlers = saved
        root.setLevel(saved_level)
    err = capsys.readouterr().err
    assert err.count("GPU available") == (1 if level == logging.INFO else 0) and "litlogger" not in err
    assert err.count("a warning") == 1


@pytest.mark.parametrize("extra", [[], ["--ema", "0.9"]])
def test_two_process_ddp_run_monitors_the_whole_validation_set(tmp_path, extra):
    """25 validation molecules on 2 processes: the monitored validation loss (checkpoints, early
    stopping) must equal the model file's, computed afterwards on the 25 in one process; counting
    DistributedSampler's repeated molecule twice made them differ (1.6271 vs 1.6327 in a 19-task run).
    With ``--ema`` both are the weights' moving average's."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "molmtl", "train", "--out", str(out), "--accelerator", "cpu", "--devices", "2",
           "--max-molecules", "128", "--epochs", "2", "--hidden", "16", "--layers", "1", "--tasks", "U0,homo,mu",
           "--no-progress", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in proc.stderr  # two processes really ran
    assert proc.stdout.count("model written") == 1 and proc.stdout.count("test MAE") == 3  # the main one reports
    assert "litlogger" not in proc.stderr and proc.stderr.count("GPU available") == 1
    monitored = monitored_loss(torch.load(out / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False))
    saved = torch.load(out / "model.pt", map_location="cpu", weights_only=False)["metrics"]
    assert abs(monitored - saved["val_loss"]) < 1e-5 * saved["val_loss"]


def test_two_processes_take_the_step_one_process_takes_on_the_whole_batch(tmp_path):
    """16 training molecules: one step of batch 16 in one process, or one step of 8 in each of two
    DDP processes. The equal-weight losses are batch means, so the averaged gradient, and with it
    the trained weights, must be the same (float rounding aside). Without the all-reduce this fails;
    Adam's first step does not see a gradient's scale, so a sum instead of a mean would pass."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    common = ["--accelerator", "cpu", "--max-molecules", "16", "--epochs", "1", "--hidden", "16", "--layers", "1",
              "--tasks", "U0,homo,mu", "--lr", "5e-3", "--no-progress"]
    bodies = []
    for devices, batch in (("1", "16"), ("2", "8")):
        out = tmp_path / f"d{devices}"
        cmd = [sys.executable, "-m", "molmtl", "-q", "train", "--out", str(out), "--devices", devices,
               "--batch-size", batch, *common]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        bodies.append(torch.load(out / "model.pt", map_location="cpu", weights_only=False))
        assert bodies[-1]["metrics"]["global_step"] == 1
    one, two = (b["strategy_state"] for b in bodies)
    encoder = [k for k in one if k.startswith("encoder.") and one[k].is_floating_point()]
    assert len(encoder) > 10
    for key in encoder:  # the shared encoder got the same averaged gradient
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-6, msg=key)
    # and the models predict the same: per-task validation loss and test MAE. (Not every head weight
    # need agree: the dipole head's last bias cancels in its neutral charges, so its gradient is
    # rounding noise, which Adam scales up to a full step; the predictions do not see it.)
    for key, loss in bodies[0]["metrics"]["val_loss_per_task"].items():
        assert bodies[1]["metrics"]["val_loss_per_task"][key] == pytest.approx(loss, rel=1e-4), key
    for a, b in zip(*(body["metrics"]["test"] for body in bodies)):
        assert a["key"] == b["key"] and b["mae"] == pytest.approx(a["mae"], rel=1e-4), a["key"]
