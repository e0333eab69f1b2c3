"""What the first GPU runs asked for: a per-invocation time budget, one log line per epoch,
device-resident validation, a validation loss of the training loss's kind, and compile routing.
All on CPU with tiny models."""

import csv
import logging

import numpy as np
import pytest
import torch

from molmtl.cli import main
from molmtl.models.painn import PaiNN
from molmtl.training.config import build_strategy
from molmtl.training.module import _compiled_forward
from molmtl.training.run import train

from trainhelp import tiny_config


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


def test_compile_uses_painns_own_static_compile():
    strategy = build_strategy(tiny_config())
    forward = _compiled_forward(strategy)
    encoders = [m for m in strategy.modules() if isinstance(m, PaiNN)]
    assert forward is strategy and encoders and all(e.compile for e in encoders)
    # on CPU PaiNN's compile flag is a no-op: the same numbers as eager
    from molmtl.data.batching import PaddedDataset
    from molmtl.data.qm9 import load_qm9
    from molmtl.targets import get_target

    qm9 = load_qm9()
    batch = PaddedDataset.from_qm9(qm9.subset(np.arange(4)), [get_target(k) for k in strategy.tasks]).batch(slice(0, 4))
    eager = build_strategy(tiny_config())
    eager.load_state_dict(strategy.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(forward(batch).pred, eager(batch).pred)


def test_compile_wraps_strategies_without_their_own():
    strategy = build_strategy(tiny_config(encoder="gcn", encoder_hp={"hidden": 8}))
    assert _compiled_forward(strategy) is not strategy


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


def test_compile_routing_by_strategy_and_batch_shapes():
    from molmtl.training.module import release_compiled

    cross = build_strategy(tiny_config(strategy="cross-stitch"))
    assert _compiled_forward(cross) is not cross  # layer-wise: PaiNN.forward is never called
    assert not any(m.compile for m in cross.modules() if isinstance(m, PaiNN))
    hard = build_strategy(tiny_config())
    assert _compiled_forward(hard, static=False) is not hard  # DataLoader batches vary in width
    assert _compiled_forward(hard, static=True) is hard
    release_compiled(hard)
    assert not any(m.compile or m._compiled is not None for m in hard.modules() if isinstance(m, PaiNN))


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


def test_fused_adamw_only_when_every_parameter_is_on_cuda():
    from types import SimpleNamespace

    from molmtl.training.module import adamw_options

    cuda, cpu = SimpleNamespace(is_cuda=True), SimpleNamespace(is_cuda=False)
    assert adamw_options([cuda, cuda]) == {"fused": True}
    assert adamw_options([cuda, cpu]) == {} and adamw_options([]) == {}
    # on CPU, the module's optimizer is torch's default AdamW
    from molmtl.training.config import build_balancer
    from molmtl.training.module import MTLModule
    from molmtl.models.normalize import TargetScaler
    from molmtl.targets import get_target

    cfg = tiny_config()
    module = MTLModule(cfg, build_strategy(cfg), build_balancer(cfg), TargetScaler([get_target(k) for k in cfg.tasks]), 1)
    opt = module.configure_optimizers()["optimizer"]
    assert isinstance(opt, torch.optim.AdamW) and not opt.defaults.get("fused")


def test_training_steps_read_no_tensor_values_on_the_host(tmp_path, monkeypatch):
    """No ``.item()``/``float(tensor)``/``bool(tensor)`` in a training step (each waits for the GPU
    there), except torch's own optimizer-step counters, which live on the host."""
    import traceback

    from torch.utils._python_dispatch import TorchDispatchMode

    from molmtl.training.module import MTLModule

    reads = []

    class HostReads(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.__name__.split(".")[0] in ("_local_scalar_dense", "nonzero"):
                stack = traceback.extract_stack()[:-1]
                if not any("torch/optim/" in f.filename for f in stack):
                    reads.append(f"{func.__name__} at {stack[-1].filename}:{stack[-1].lineno}")
            return func(*args, **(kwargs or {}))

    step = MTLModule.training_step

    def watched(self, batch, batch_idx):
        with HostReads():
            return step(self, batch, batch_idx)

    monkeypatch.setattr(MTLModule, "training_step", watched)
    train(tiny_config(device_data=True, max_molecules=32, batch_size=8, epochs=2, trim_to=8, sort_window=32),
          tmp_path, progress=False)
    assert reads == [], reads


def test_fused_adamw_trains_under_bf16_mixed_with_clipping(tmp_path, monkeypatch):
    """The CUDA set-up (fused AdamW, bf16-mixed, gradient clipping) on the CPU: Lightning's own
    clipping refuses fused optimizers under mixed precision, so the module clips with torch."""
    import torch

    from molmtl.training import module as module_mod
    from molmtl.training.run import train

    monkeypatch.setattr(module_mod, "adamw_options", lambda params: {"fused": True})
    seen = []
    real_step = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        seen.append(self.defaults.get("fused"))
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    norms = []
    real_clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda params, max_norm, **kw: norms.append(
        (max_norm, float(real_clip(params, max_norm, **kw)))))
    cfg = tiny_config(precision="bf16-mixed", grad_clip=1e-3, epochs=1)
    train(cfg, tmp_path / "run", progress=False)
    assert seen and all(seen)  # every step went through the fused optimizer
    assert len(norms) == len(seen) and all(m == 1e-3 and n > 0 for m, n in norms)  # and was clipped first


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
