"""Every multi-task strategy, and a few balancers with hard sharing, on one small common CPU budget.

Trains each method on the same QM9 subset (the first N molecules of each part of the standard
random split), all 19 targets, the same encoder and epochs, then reports per-target test MAE in
display units and Delta_m (%) against single-task learning ("single" = one encoder per target).

    python benchmarks/bench_strategies.py --n-train 2000 --epochs 10 \
        --results benchmarks/results/strategies.md

Small on purpose (a shared 2-core CPU): absolute errors are far from converged QM9 numbers; the
table compares methods under one budget, one seed.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import torch

from molmtl.config import TrainConfig
from molmtl.targets import TARGET_KEYS, get_target
from molmtl.training.evaluate import delta_m
from molmtl.training.run import train

GROUPS = [  # a chemically motivated grouping for "clustered"
    ["U0", "U", "H", "G", "U0_atom", "U_atom", "H_atom", "G_atom", "zpve", "alpha", "r2", "cv"],
    ["homo", "lumo", "gap", "mu"],
    ["A", "B", "C"],
]

#: The eight near-identical energies (U0, U, H, G and their atomization energies) at 1/4 each: two tasks' worth.
ENERGIES_QUARTER = {k: 0.25 for k in ("U0", "U", "H", "G", "U0_atom", "U_atom", "H_atom", "G_atom")}

METHODS = {  # name: (strategy, strategy options, weighting[, static task weights])
    "single": ("single", {}, "equal"),
    "hard": ("hard", {}, "equal"),
    "hard+group-lasso": ("hard", {"group_lasso": 1e-4}, "equal"),
    "soft (lambda 1e-2)": ("soft", {"lam": 1e-2}, "equal"),
    "cross-stitch": ("cross-stitch", {}, "equal"),
    "mrn": ("mrn", {}, "equal"),
    "clustered (3 groups)": ("clustered", {"groups": GROUPS}, "equal"),
    "hard + uw": ("hard", {}, "uw"),
    "hard + dwa": ("hard", {}, "dwa"),
    "hard + famo": ("hard", {}, "famo"),
    "hard + upgrad": ("hard", {}, "upgrad"),
    "hard + pcgrad": ("hard", {}, "pcgrad"),
    "hard (energies x1/4)": ("hard", {}, "equal", ENERGIES_QUARTER),
    "hard (energies x1/8)": ("hard", {}, "equal", {k: 0.125 for k in ENERGIES_QUARTER}),
    "hard (energies x1/4; orbitals and mu x2)": ("hard", {}, "equal",
                                                 {**ENERGIES_QUARTER, "homo": 2.0, "lumo": 2.0, "gap": 2.0, "mu": 2.0}),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=2000, help="training molecules (validation and test: a fifth each)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--encoder", default="gcn")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--seed", type=int, default=0, help="initialization and shuffling seed (the split stays)")
    p.add_argument("--loss", default="mse", choices=("mse", "l1"), help="per-task loss on normalized targets")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights for every method (0: off)")
    p.add_argument("--schedule", default="cosine", choices=("cosine", "plateau"), help="learning-rate schedule")
    p.add_argument("--only", default=None, help="comma-separated method names")
    p.add_argument("--work", default="/tmp/bench_strategies", help="run folders and results.json")
    p.add_argument("--results", default=None, help="write the Markdown table here")
    p.add_argument("--report-only", action="store_true", help="rewrite the table from WORK/results.json, no training")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    store = work / "results.json"
    results = json.loads(store.read_text()) if store.is_file() else {}
    names = [n.strip() for n in args.only.split(",")] if args.only else list(METHODS)
    hp = {"hidden": args.hidden, ("steps" if args.encoder == "mpnn" else "num_layers"): args.layers}
    for name in [] if args.report_only else names:
        strategy, shp, weighting, *task_weights = METHODS[name]
        cfg = TrainConfig(tasks=TARGET_KEYS, encoder=args.encoder, encoder_hp=hp, strategy=strategy, strategy_hp=shp,
                          weighting=weighting, task_weights=task_weights[0] if task_weights else {}, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          max_molecules=args.n_train, accelerator="cpu", devices=1, early_stopping=None,
                          seed=args.seed, loss=args.loss, ema=args.ema, schedule=args.schedule)
        t0 = time.perf_counter()
        try:
            r = train(cfg, work / name.replace(" ", "_").replace("(", "").replace(")", ""), progress=False,
                      overwrite=True)  # a rerun of a method replaces its run
        except Exception as exc:  # noqa: BLE001 - a benchmark reports what failed and goes on
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"{name}: FAILED {exc}", file=sys.stderr, flush=True)
        else:
            results[name] = {"test": {row["key"]: row["mae"] for row in r.metrics["test"]},
                             "seconds": time.perf_counter() - t0, "epochs": r.metrics["epochs"]}
            print(f"{name}: {results[name]['seconds']:.0f} s", file=sys.stderr, flush=True)
        store.write_text(json.dumps(results, indent=1))
    command = " ".join(a for a in ["python", *sys.argv] if a != "--report-only")  # the command that trained
    table = markdown(results, args, command)
    print(table)
    if args.results:
        Path(args.results).write_text(table)
    return 0


def markdown(results: dict, args, command: str) -> str:
    stl = results.get("single", {}).get("test")
    head = ["method", *[f"{k} [{get_target(k).display_unit}]" for k in TARGET_KEYS], "Delta_m vs single [%]", "time [s]"]
    lines = [
        "# Strategies and balancers on a small common budget (CPU)\n",
        f"Command: `{command}`\n",
        f"Budget: {args.n_train} training / {max(args.n_train // 5, 16)} validation / {max(args.n_train // 5, 16)} test "
        f"molecules (first rows of each part of the standard RandomState(42) split), all 19 targets, encoder "
        f"{args.encoder} (width {args.hidden}, {args.layers} layers), {args.epochs} epochs, batch {args.batch_size}, "
        f"AdamW lr {args.lr} with {'warm-up + cosine' if args.schedule == 'cosine' else 'plateau'} schedule, {args.loss} loss, "
        f"{f'EMA of the weights (decay {args.ema:g}), ' if args.ema else ''}seed {args.seed}, {args.threads} CPU thread(s) on "
        f"{platform.processor() or platform.machine()} shared with other jobs (times are indicative only).\n",
        "Per-target test MAE in display units (energies in meV); Delta_m = mean over targets of "
        "(MAE - MAE_single) / MAE_single x 100 (lower is better). Test MAEs from the best-validation epoch.\n",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, res in results.items():
        if "error" in res:
            lines.append(f"| {name} | " + " | ".join(["-"] * len(TARGET_KEYS)) + f" | failed: {res['error'][:80]} | - |")
            continue
        mae = res["test"]
        dm = f"{delta_m(mae, stl)[0]:+.1f}" if stl else "-"
        lines.append(f"| {name} | " + " | ".join(f"{mae[k]:.3g}" for k in TARGET_KEYS) + f" | {dm} | {res['seconds']:.0f} |")
    lines += [
        "",
        "Notes: single, soft and cross-stitch hold one encoder per target (19 encoders), hence their time. "
        "The 2D GCN is used because 19 PaiNNs per step do not fit this CPU budget; one seed, so differences of "
        "a few percent are noise. The LibMTL / Nash-MTL protocol (`molmtl train --protocol libmtl`, 110,831 "
        "training molecules, 300 epochs) needs a GPU and was not run here; its published STL MAEs and best "
        "Delta_m (+58.5 %) are in `molmtl.training.protocols`.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
