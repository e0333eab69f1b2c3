"""The GPU recipe's code paths on a CUDA device (``pytest -m gpu tests/training``; skipped by default
and where torch sees no GPU): device-resident batches, bf16, PaiNN's static compile, fused AdamW,
the weights' moving average, a time-limited stop and a resume."""

import pytest
import torch
from trainhelp import monitored_loss, tiny_config

from molmtl.training.run import train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_gpu_recipe_with_ema_stops_resumes_and_saves_the_average(tmp_path):
    # the runbook's call 3: a constant (plateau) learning rate with the moving average
    cfg = tiny_config(accelerator="gpu", devices=1, precision="bf16-mixed", compile=True, device_data=True, ema=0.9,
                      schedule="plateau", loss="l1", epochs=3, max_molecules=64, batch_size=16)
    first = train(cfg, tmp_path, progress=False, time_limit=1e-3)  # over budget after epoch 1
    assert first.metrics["epochs"] == 1
    result = train(cfg, tmp_path, resume=True, progress=False)
    assert result.metrics["epochs"] == 3
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    assert "current_model_state" in last and "averaging_state" in last
    # the validation loss that chose the best epoch is the stored model's (bf16 on the GPU against
    # float32 on the CPU afterwards: agreement to a few parts in a thousand)
    assert monitored_loss(best) == pytest.approx(result.metrics["val_loss"], rel=5e-3)
