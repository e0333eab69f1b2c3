"""Soft-sharing strength sweep: one run per lambda, validation losses side by side."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path

from molmtl.config import TrainConfig
from molmtl.data.cache import atomic_path
from molmtl.errors import InputError
from molmtl.inference import read_model_file
from molmtl.plotting import pyplot, save_png
from molmtl.training.run import read_run_config, train

log = logging.getLogger(__name__)

#: Default lambdas: powers of ten from 1e-3 to 1e1.
DEFAULT_LAMBDAS = (1e-3, 1e-2, 1e-1, 1e0, 1e1)


def sweep_lambda(config: TrainConfig, out_dir: str | Path, lambdas: Sequence[float] = DEFAULT_LAMBDAS, *,
                 progress: bool = False, overwrite: bool = False) -> list[dict]:
    """Train ``config`` with soft sharing for each lambda and tabulate validation losses.

    Each run goes to ``out_dir/lam_<value>``; ``sweep.csv``, ``sweep.md`` and ``sweep.png`` hold
    the total (mean over tasks) and per-task validation loss, in normalized units (MSE of
    standardized targets, or L1 with ``loss="l1"``), per lambda.

    ``overwrite`` is :func:`~molmtl.training.run.train`'s, for every lambda's folder.

    Returns:
        one dict per lambda: ``lam``, ``val_loss`` and ``<task>`` losses (none in a DDP run's
        other processes).
    """
    if not lambdas or any(not lam >= 0 for lam in lambdas):
        raise InputError("lambdas must be a non-empty list of numbers >= 0")
    out = Path(out_dir)
    rows = []
    for lam in lambdas:
        cfg = config.replace(strategy="soft", strategy_hp={**config.strategy_hp, "lam": float(lam)})
        log.info("soft sharing with lambda = %g", lam)
        metrics = _sweep_point(cfg, out / f"lam_{lam:g}", progress=progress, overwrite=overwrite)
        if metrics is not None:  # under DDP the other processes train along but report nothing
            rows.append({"lam": float(lam), "val_loss": metrics["val_loss"], **metrics["val_loss_per_task"]})
    if rows:
        write_sweep(out, rows, config.tasks, config.loss)
    return rows


def _same_run(saved: TrainConfig, cfg: TrainConfig, *, epochs: bool = True) -> bool:
    """``saved`` (a run folder's) is ``cfg``'s run: equal but for the elements a CSV's molecules
    added, and (``epochs=False``) the epoch count, which a resumed run may change."""
    ignore = {"elements": None, **({} if epochs else {"epochs": None})}
    return ({**saved.to_dict(), **ignore} == {**cfg.to_dict(), **ignore}
            and set(cfg.elements) <= set(saved.elements))


def _sweep_point(cfg: TrainConfig, folder: Path, *, progress: bool, overwrite: bool) -> dict | None:
    """One lambda's metrics: kept from a finished run of this configuration, else trained (resumed
    from the last checkpoint of an interrupted or shorter run of it). None in a DDP run's other
    processes."""
    model, last = folder / "model.pt", folder / "checkpoints" / "last.ckpt"
    resume = False
    if not overwrite and model.is_file():
        body = read_model_file(model)
        if _same_run(TrainConfig.from_dict(body["config"]), cfg):
            log.info("lambda = %g: finished earlier, kept (%s)", cfg.strategy_hp["lam"], model)
            return body["metrics"]
    if not overwrite and (model.is_file() or last.is_file()):
        resume = last.is_file() and _same_run(read_run_config(folder), cfg, epochs=False)
        if not resume:
            raise InputError(f"{folder} holds a run with another configuration; use --overwrite or another --out")
        log.info("lambda = %g: resuming from %s", cfg.strategy_hp["lam"], last)
    result = train(cfg, folder, progress=progress, overwrite=overwrite, resume=resume)
    return result.metrics if result.is_main else None


def write_sweep(out: Path, rows: list[dict], tasks: Sequence[str], loss: str) -> None:
    unit = "normalized MSE [-]" if loss == "mse" else "normalized L1 [-]"
    kind = "mse" if loss == "mse" else "l1"  # normalized validation losses are dimensionless
    header = ["lambda [-]", f"total val {kind} [-]", *(f"{k} val {kind} [-]" for k in tasks)]
    with atomic_path(out / "sweep.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([r["lam"], r["val_loss"], *[r[k] for k in tasks]])
    lines = [f"Validation loss per lambda ({unit}; soft sharing)\n",
             "| lambda [-] | total | " + " | ".join(tasks) + " |", "|" + "---|" * (len(tasks) + 2)]
    best = min(rows, key=lambda r: r["val_loss"])
    for r in rows:
        mark = " (best)" if r is best else ""
        lines.append(f"| {r['lam']:g}{mark} | {r['val_loss']:.4g} | " + " | ".join(f"{r[k]:.4g}" for k in tasks) + " |")
    with atomic_path(out / "sweep.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5, 3.5))
    lams = [r["lam"] for r in rows]
    for k in tasks:
        ax.plot(lams, [r[k] for r in rows], lw=0.8, alpha=0.6, label=k)
    ax.plot(lams, [r["val_loss"] for r in rows], "k-o", lw=2, label="total")
    if all(lam > 0 for lam in lams):
        ax.set_xscale("log")
    ax.set_xlabel("lambda [-]")
    ax.set_ylabel(f"validation loss, {unit}")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    save_png(fig, out / "sweep.png")


__all__ = ["sweep_lambda", "DEFAULT_LAMBDAS"]
