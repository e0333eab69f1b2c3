"""``molmtl train``'s training step through Lightning and through a plain loop: molecules/s, and
where a step's time goes.

Both paths run :class:`~molmtl.training.module.MTLModule`'s step (strategy forward, normalized
L1 losses, balancer backward, gradient clipping, AdamW, LR schedule) on the same device-resident
QM9 training batches (``PaddedLoader``, as ``--device-data``), the standard protocol's hard-sharing
PaiNN with 19 heads, so the difference is what Lightning adds per step. No validation, checkpoints
or loggers: epochs of training steps only, timed from the second on (the first compiles).
``--profile-steps K`` records K steps of each path with ``torch.profiler`` and prints the host
time, the GPU kernel time, kernel launches and synchronizing CUDA calls per step: a step whose
host time exceeds its kernel time is bound by Python and launches, not by the GPU.

Usage::

    python benchmarks/bench_train_step.py --device cpu --max-molecules 64 --batch-size 16 --epochs 2 --profile-steps 2
    python benchmarks/bench_train_step.py --device cuda --batch-size 1024 --epochs 4 --compile --bf16 --trim-to 8 --profile-steps 20
"""

from __future__ import annotations

import argparse
import statistics
import time

import lightning as L
import torch

from molmtl.data.batching import PaddedDataset
from molmtl.inference import build_strategy
from molmtl.training.data import fit_scaler, load_training_data
from molmtl.training.datamodule import MolDataModule, PaddedLoader
from molmtl.training.module import MTLModule
from molmtl.training.protocols import protocol_config
from molmtl.training.run import build_balancer

SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cudaMemcpy", "cudaMemcpyAsync")
LAUNCH_CALLS = ("cudaLaunchKernel", "cuLaunchKernel", "cuLaunchKernelEx", "cudaLaunchKernelExC")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _profiler(device: torch.device):
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if device.type == "cuda" else [])
    return torch.profiler.profile(activities=acts)


def summarize(name: str, prof, steps: int, wall_s: float) -> dict:
    """Per-step host wall time, GPU kernel time, kernel launches and synchronizing calls."""
    events = prof.key_averages()
    kernel_us = sum(e.self_device_time_total for e in events if str(e.device_type).endswith("CUDA"))  # kernels
    count = {e.key: e.count for e in events}
    row = {"path": name, "host_ms": 1e3 * wall_s / steps, "kernel_ms": kernel_us / 1e3 / steps,
           "launches": sum(count.get(k, 0) for k in LAUNCH_CALLS) / steps,
           "syncs": {k: count[k] / steps for k in SYNC_CALLS if count.get(k)}}
    print(f"\n## {name}: {steps} profiled steps, ops by host (self CPU) time\n")
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))
    if kernel_us:
        print(f"\n## {name}: ops by GPU time\n")
        print(events.table(sort_by="self_device_time_total", row_limit=15))
    return row


class EpochTimer(L.Callback):
    """Training-step time of each epoch (GPU work finished), and a profile of ``steps`` steps of the last epoch."""

    def __init__(self, profile_steps: int):
        self.seconds: list[float] = []
        self.profile_steps, self.prof, self.prof_wall = profile_steps, None, 0.0

    def on_train_epoch_start(self, trainer, pl_module):
        _sync(pl_module.device)
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        _sync(pl_module.device)
        self.seconds.append(time.perf_counter() - self._t0)

    def _profiling(self, trainer, batch_idx) -> bool:
        return self.profile_steps > 0 and trainer.current_epoch == trainer.max_epochs - 1 and batch_idx >= 2

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._profiling(trainer, batch_idx) and batch_idx == 2:
            _sync(pl_module.device)
            self.prof = _profiler(pl_module.device).__enter__()
            self._p0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.prof is not None and batch_idx == 1 + self.profile_steps:
            _sync(pl_module.device)
            self.prof_wall = time.perf_counter() - self._p0
            self.prof.__exit__(None, None, None)


def plain_epochs(module: MTLModule, loader, epochs: int, device, bf16: bool, profile_steps: int):
    """The module's training step without Lightning: seconds per epoch, and a profile of the last epoch."""
    cfg = module.config
    module.to(device).train()
    sched_cfg = module.configure_optimizers()
    opt, sched = sched_cfg["optimizer"], sched_cfg["lr_scheduler"]["scheduler"]
    params = [p for g in opt.param_groups for p in g["params"]]

    def step(batch):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            output, losses = module._losses(batch)
            penalty = module.strategy.penalty()
            opt.zero_grad(set_to_none=True)
            module.balancer.backward(losses, module.strategy, output, penalty)
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            sched.step()
            module.strategy.on_after_step()

    seconds, prof, prof_wall = [], None, 0.0
    for epoch in range(epochs):
        _sync(device)
        t0 = time.perf_counter()
        for k, batch in enumerate(loader):
            if profile_steps and epoch == epochs - 1 and k == 2:
                _sync(device)
                prof, p0 = _profiler(device).__enter__(), time.perf_counter()
            step(batch)
            if prof is not None and k == 1 + profile_steps:
                _sync(device)
                prof_wall = time.perf_counter() - p0
                prof.__exit__(None, None, None)
        _sync(device)
        seconds.append(time.perf_counter() - t0)
    return seconds, prof, prof_wall


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=3, help="epochs per path; the first (compilation) is not counted")
    p.add_argument("--max-molecules", type=int, default=None, help="training molecules (default: QM9's 110,000)")
    p.add_argument("--compile", action="store_true", help="as molmtl train --compile --device-data (PaiNN's layers)")
    p.add_argument("--bf16", action="store_true", help="bf16-mixed precision (Lightning's; autocast in the plain loop)")
    p.add_argument("--trim-to", type=int, default=0, help="as molmtl train --trim-to")
    p.add_argument("--sort-window", type=int, default=None, help="as molmtl train --sort-window (default: 16 batches with --trim-to)")
    p.add_argument("--message", default="bmm", help="PaiNN message blocks: bmm, elementwise or basis")
    p.add_argument("--profile-steps", type=int, default=0, help="profile this many steps of each path's last epoch")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--tf32", action="store_true", help="torch.set_float32_matmul_precision('high'): TF32 for the "
                   "float32 matrix products (the task heads run outside autocast, in float32)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tf32:
        torch.set_float32_matmul_precision("high")
    device = torch.device(args.device)
    sort_window = args.sort_window if args.sort_window is not None else (16 * args.batch_size if args.trim_to else 0)
    config = protocol_config("standard", batch_size=args.batch_size, lr=1e-3, epochs=args.epochs, early_stopping=None,
                             max_molecules=args.max_molecules, accelerator="gpu" if device.type == "cuda" else "cpu",
                             devices=1, precision="bf16-mixed" if args.bf16 else "32-true", compile=args.compile,
                             device_data=True, trim_to=args.trim_to, sort_window=sort_window,
                             encoder_hp={"message": args.message})
    L.seed_everything(0, verbose=False)
    data = load_training_data(config, graph=False, geometry=True)
    scaler = fit_scaler(data.train, data.targets, config.normalization)
    n, steps = len(data.train), -(-len(data.train) // args.batch_size)
    args.profile_steps = min(args.profile_steps, max(steps - 2, 0))  # steps 3.. of an epoch

    def module():
        return MTLModule(config, build_strategy(config), build_balancer(config), scaler, steps)

    timer = EpochTimer(args.profile_steps)
    trainer = L.Trainer(max_epochs=args.epochs, accelerator=config.accelerator, devices=1, precision=config.precision,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, num_sanity_val_steps=0, callbacks=[timer])
    dm = MolDataModule(data, batch_size=args.batch_size, graph=False, geometry=True, device_data=True,
                       trim_to=args.trim_to, sort_window=sort_window)
    trainer.fit(module(), datamodule=dm)

    padded = PaddedDataset.from_qm9(data.qm9_parts["train"], data.targets).to(device)
    loader = PaddedLoader(padded, args.batch_size, shuffle=True, trim_to=args.trim_to, sort_window=sort_window)
    plain_s, plain_prof, plain_wall = plain_epochs(module(), loader, args.epochs, device, args.bf16, args.profile_steps)

    rows = []
    if args.profile_steps:
        rows.append(summarize("Lightning (molmtl train)", timer.prof, args.profile_steps, timer.prof_wall))
        rows.append(summarize("plain loop", plain_prof, args.profile_steps, plain_wall))
    rate = {name: n / statistics.median(s[1:] if len(s) > 1 else s)
            for name, s in (("Lightning (molmtl train)", timer.seconds), ("plain loop", plain_s))}
    print(f"\ndevice={device} torch={torch.__version__} molecules={n} batch_size={args.batch_size} epochs={args.epochs} "
          f"compile={args.compile} bf16={args.bf16} tf32={args.tf32} trim_to={args.trim_to} sort_window={sort_window} "
          f"message={args.message}")
    print(f"epoch seconds: Lightning {[round(s, 2) for s in timer.seconds]}, plain {[round(s, 2) for s in plain_s]}")
    print("| path | train molecules/s (median, epochs 2+) | host ms/step | GPU kernel ms/step | kernel launches/step | sync calls/step |")
    print("|---|---|---|---|---|---|")
    prof_rows = {r["path"]: r for r in rows}
    for name, r in rate.items():
        pr = prof_rows.get(name)
        extra = (f"{pr['host_ms']:.1f} | {pr['kernel_ms']:.1f} | {pr['launches']:.0f} | "
                 + (", ".join(f"{k} {v:g}" for k, v in pr["syncs"].items()) or "0")) if pr else "- | - | - | -"
        print(f"| {name} | {r:,.0f} | {extra} |")


if __name__ == "__main__":
    main()
