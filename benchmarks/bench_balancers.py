"""Time per training step of every loss balancer, 19 QM9 tasks, a small PaiNN, on CPU.

One step = forward, masked per-task losses, ``balancer.backward`` (weighting or torchjd Jacobian
aggregation), AdamW step, ``strategy.on_after_step``. Also times each aggregator alone on a
random Jacobian of the model's shape (the solver's share of a step).

    .venv/bin/python benchmarks/bench_balancers.py --threads 1 --steps 10
    .venv/bin/python benchmarks/bench_balancers.py --threads 1 --steps 10 --jacobian features

Prints a Markdown table (ms/step, median and min of ``--steps`` rounds after ``--warmup``; the
balancers take turns step by step; ratio of medians to ``equal``).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import warnings
from functools import partial

import numpy as np
import torch

from molmtl.data.batching import MolDataset, collate
from molmtl.data.qm9 import load_qm9
from molmtl.models.heads import make_head
from molmtl.models.registry import ENCODERS
from molmtl.mtl.balancers.jacobian import JacobianBalancer
from molmtl.mtl.base import masked_task_losses
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS
from molmtl.targets import TARGET_KEYS

BALANCERS = WEIGHTINGS.names()
#: The weightings that aggregate a Jacobian with torchjd (they take a ``jacobian`` option).
JACOBIAN_BALANCERS = tuple(n for n in BALANCERS if "jacobian" in WEIGHTINGS.options(n))

log = logging.getLogger("bench_balancers")


def qm9_batch(n_mol: int, seed: int = 0):
    """``n_mol`` random QM9 molecules as one MolBatch, with all 19 labels standardized."""
    qm9 = load_qm9()
    rows = np.sort(np.random.RandomState(seed).choice(len(qm9), n_mol, replace=False))
    ds = MolDataset(qm9.subset(rows), graph=False, geometry=True)
    batch = collate([ds[i] for i in range(len(ds))], graph=False, geometry=True)
    y = batch.y.double()
    batch.y = ((y - y.mean(0)) / y.std(0).clamp(min=1e-12)).float()  # normalized units
    return batch


class Runner:
    """One (strategy, balancer, optimizer) triple that can take a timed training step."""

    def __init__(self, strategy, balancer, batch):
        self.strategy, self.balancer, self.batch = strategy, balancer, batch
        self.opt = torch.optim.AdamW([*strategy.parameters(), *balancer.parameters()], lr=1e-3)
        self.times: list[float] = []

    def step(self, record: bool) -> None:
        if self.batch.z.is_cuda:
            torch.cuda.synchronize()  # time whole steps, not kernel launches
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        out = self.strategy(self.batch)
        losses = masked_task_losses(out.pred, self.batch.y)
        self.balancer.backward(losses, self.strategy, out, self.strategy.penalty())
        self.opt.step()
        self.strategy.on_after_step()
        if self.batch.z.is_cuda:
            torch.cuda.synchronize()
        if record:
            self.times.append(time.perf_counter() - t0)


def time_aggregator(balancer: JacobianBalancer, n_tasks: int, n_params: int, repeats: int, device: str) -> float:
    """Median seconds of the aggregator alone on a random ``(n_tasks, n_params)`` Jacobian."""
    g = torch.Generator().manual_seed(0)
    J = torch.randn(n_tasks, n_params, generator=g).to(device)
    balancer.aggregator(J)  # warm-up (cvxpy problem construction for Nash-MTL)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        balancer.aggregator(J)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--strategy", default="hard", help="strategy (hard, mrn, clustered need no extra options)")
    p.add_argument("--hidden", type=int, default=32, help="PaiNN feature width")
    p.add_argument("--layers", type=int, default=2, help="PaiNN layers")
    p.add_argument("--batch-size", type=int, default=32, help="molecules per step")
    p.add_argument("--steps", type=int, default=20, help="timed steps per balancer")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    p.add_argument("--balancers", default=",".join(BALANCERS), help="comma-separated names")
    p.add_argument("--jacobian", default="params", choices=["params", "features"],
                   help="torchjd balancers: exact Jacobian w.r.t. shared parameters, or w.r.t. the representation")
    p.add_argument("--device", default="cpu", help="cpu or cuda (the GPU path is untested here)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore")  # cvxpy's DPP notice for Nash-MTL, once per solve
    if args.threads > 0:  # 0: torch's default
        torch.set_num_threads(args.threads)

    load_start = os.getloadavg()[0]
    batch = qm9_batch(args.batch_size).to(args.device)
    T = len(TARGET_KEYS)
    names = args.balancers.split(",")
    runners = {}
    for name in names:
        torch.manual_seed(0)
        strategy = STRATEGIES.build(args.strategy, tasks=TARGET_KEYS, head_factory=make_head,
                                 encoder_factory=partial(ENCODERS.build, "painn", hidden=args.hidden, num_layers=args.layers))
        hp = {"jacobian": args.jacobian} if name in JACOBIAN_BALANCERS else {}
        runners[name] = Runner(strategy.to(args.device), WEIGHTINGS.build(name, n_tasks=T, **hp).to(args.device), batch)
    # Round robin: one step of every balancer per round, so load from other processes on a shared
    # machine hits all balancers alike and the ratios stay fair.
    for r in range(args.warmup + args.steps):
        for runner in runners.values():
            runner.step(record=r >= args.warmup)
        log.info("round %d/%d done", r + 1, args.warmup + args.steps)
    rows = []
    for name, runner in runners.items():
        n_shared = sum(p.numel() for p in runner.strategy.shared_parameters())
        solver = (time_aggregator(runner.balancer, T, n_shared, args.steps, args.device) * 1e3
                  if isinstance(runner.balancer, JacobianBalancer) else float("nan"))
        rows.append((name, statistics.median(runner.times) * 1e3, min(runner.times) * 1e3, solver))
    strategy = runner.strategy
    n_params = sum(p.numel() for p in strategy.parameters())
    base = dict((r[0], r[1]) for r in rows).get("equal")
    print(f"\n{args.strategy} sharing, torchjd Jacobian w.r.t. {args.jacobian}, PaiNN hidden={args.hidden} layers={args.layers}, {n_params:,} parameters "
          f"({n_shared:,} shared), {T} tasks, batch {args.batch_size} QM9 molecules, {args.threads} CPU thread(s), "
          f"torch {torch.__version__}; 1-min load average {load_start:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end ({os.cpu_count()} cores)\n")
    print("| balancer | ms/step (median) | ms/step (min) | x equal | aggregator alone, ms |")
    print("|---|---:|---:|---:|---:|")
    for name, med, best, solver in rows:
        ratio = f"{med / base:.2f}" if base else "-"
        solver_s = "-" if np.isnan(solver) else f"{solver:.2f}"
        print(f"| {name} | {med:.1f} | {best:.1f} | {ratio} | {solver_s} |")


if __name__ == "__main__":
    main()
