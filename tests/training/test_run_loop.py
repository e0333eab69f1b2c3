"""The run loop: a per-invocation time budget, Ctrl-C and resume, one log line per epoch, the last
checkpoint, and a validation loss of the training loss's kind (DataLoader and device-resident).
All on CPU with tiny models."""

import csv
import logging

import numpy as np
import pytest
import torch
from trainhelp import tiny_config

from molmtl.cli import main
from molmtl.training.run import train


def _logged_val_losses(run) -> list[float]:
    """Validation losses of every invocation (a resumed run logs to the next ``version_N``)."""
    out = []
    for path in sorted((run / "logs").glob("version_*/metrics.csv")):
        with open(path) as f:
            out += [float(r["val_loss"]) for r in csv.DictReader(f) if r.get("val_loss")]
    return out


def test_time_budget_stops_at_an_epoch_boundary_and_resume_finishes(tmp_path):
    cfg = tiny_config(epochs=4, max_molecules=16)
    first = train(cfg, tmp_path, progress=False, time_limit=1e-3)  # over budget after the first epoch
    assert first.metrics["epochs"] == 1 and first.model_path.is_file()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    second = train(cfg, tmp_path, resume=True, progress=False, time_limit=3600)
    assert second.metrics["epochs"] == 4


def test_time_limit_cli_validation_and_resume(tmp_path, capsys):
    run = tmp_path / "run"
    tiny = ["--encoder", "painn", "--hidden", "8", "--layers", "1", "--tasks", "U0", "--max-molecules", "16",
            "--batch-size", "8", "--accelerator", "cpu", "--no-progress"]
    assert main(["-q", "train", "--out", str(run), *tiny, "--time-limit", "-5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "--time-limit" in err, err
    assert main(["-q", "train", "--out", str(run), *tiny, "--epochs", "3", "--time-limit", "0.001"]) == 0
    assert len(_logged_val_losses(run)) == 1
    assert main(["-q", "train", "--out", str(run), "--resume", "--time-limit", "600", "--no-progress"]) == 0
    assert len(_logged_val_losses(run)) == 3


def test_epoch_log_line_without_progress_bar(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="molmtl.training.callbacks"):
        train(tiny_config(epochs=2, max_molecules=16), tmp_path, progress=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "molmtl.training.callbacks"]
    assert any(m.startswith("epoch 1/2: train loss") and "molecules/s (training steps " in m for m in lines), lines
    assert any(m.startswith("epoch 2/2") for m in lines), lines


@pytest.mark.parametrize("loss", ["mse", "l1"])
@pytest.mark.parametrize("device_data", [False, True])
def test_logged_val_loss_is_the_training_loss_on_validation(tmp_path, loss, device_data):
    # One epoch: the best checkpoint is that epoch, so the loss the module logged during validation
    # (padded device batches with --device-data, DataLoader batches otherwise) must equal the one
    # recomputed afterwards, molecule by molecule, on the stored model.
    result = train(tiny_config(loss=loss, device_data=device_data, max_molecules=40, batch_size=16), tmp_path,
                   progress=False)
    logged = _logged_val_losses(tmp_path)
    assert len(logged) == 1
    np.testing.assert_allclose(logged[0], result.metrics["val_loss"], rtol=1e-4)
    # per-task validation MAE: display units, the unit in the column name, the model file's numbers
    with open(next((tmp_path / "logs").glob("version_*/metrics.csv"))) as f:
        row = [r for r in csv.DictReader(f) if r.get("val_loss")][-1]
    for r in result.metrics["val"]:
        assert float(row[f"val_mae/{r['key']} [{r['unit']}]"]) == pytest.approx(r["mae"], rel=1e-4)


def test_last_checkpoint_is_the_last_epoch_even_when_validation_stalls(tmp_path):
    # lr 1e-30: the validation loss never improves after epoch 1, so best.ckpt stays at epoch 0,
    # but last.ckpt (what --resume continues from) must hold the last epoch
    train(tiny_config(max_molecules=8, epochs=3, lr=1e-30), tmp_path, progress=False)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert best["epoch"] == 0 and last["epoch"] == 2
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    resumed = train(tiny_config(max_molecules=8, epochs=4, lr=1e-30), tmp_path, resume=True, progress=False)
    assert resumed.metrics["epochs"] == 4 and resumed.metrics["best_checkpoint"] == "best.ckpt"


def test_time_budget_leaves_the_first_epoch_out_of_its_estimate(monkeypatch):
    from types import SimpleNamespace

    from molmtl.training import callbacks

    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: clock[0])
    trainer = SimpleNamespace(should_stop=False, current_epoch=0,
                              strategy=SimpleNamespace(reduce_boolean_decision=lambda d, all=True: d))
    budget = callbacks.TimeBudget(200)
    budget.on_train_start(trainer, None)
    for k, seconds in enumerate([60] + [5] * 40):  # a slow first (compiling) epoch, then 5 s epochs
        budget.on_train_epoch_start(trainer, None)
        clock[0] += seconds
        trainer.current_epoch = k
        budget.on_train_epoch_end(trainer, None)
        if trainer.should_stop:
            break
    # after epoch 28 (0-based) 200 s have passed and another 5 s epoch would overrun; had the
    # first epoch's 60 s stayed the estimate, it would have stopped at epoch 17 (145 s)
    assert trainer.should_stop and trainer.current_epoch == 28 and clock[0] == 200


def test_ctrl_c_keeps_finished_epochs_and_resume_completes(tmp_path, monkeypatch):
    """Lightning turns Ctrl-C into exit(1); train() raises KeyboardInterrupt instead (the CLI's exit
    code 130), after the finished epoch's last.ckpt, and ``resume`` completes the run."""
    import signal

    from molmtl.training.callbacks import EpochLog

    def interrupt_in_epoch_2(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(EpochLog, "on_train_epoch_start", interrupt_in_epoch_2)
    cfg = tiny_config(epochs=3, max_molecules=16)
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path, progress=False)
    finally:
        signal.signal(signal.SIGINT, handler)  # Lightning ignores further Ctrl-C while it shuts down
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 0
    assert not (tmp_path / "model.pt").exists()
    monkeypatch.undo()
    assert train(cfg, tmp_path, resume=True, progress=False).metrics["epochs"] == 3
