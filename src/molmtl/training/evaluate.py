r"""Metrics of a trained model: per-target MAE in display units, chemical accuracy, Delta_m.

Delta_m (Maninis et al., CVPR 2019; the multi-task benchmarks of LibMTL and Nash-MTL) compares a
multi-task model with single-task learning (STL), every task weighted the same:

.. math::
    \Delta_m = \frac{100}{T} \sum_{t=1}^{T} \frac{\mathrm{MAE}_t - \mathrm{MAE}^{STL}_t}{\mathrm{MAE}^{STL}_t}
    \quad [\%],

lower is better (all QM9 metrics are errors). The error ratio divides a target's MAE by Gilmer et
al.'s chemical accuracy (< 1: chemically accurate).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from molmtl.data.cache import atomic_path
from molmtl.data.csv import read_csv
from molmtl.errors import InputError, NotFoundError
from molmtl.inference import (
    predict_dataset,
    predict_smiles,
    read_model_file,
)
from molmtl.plotting import pyplot, save_png
from molmtl.targets import Target, column_header
from molmtl.training.data import model_data

log = logging.getLogger(__name__)


def target_metrics(targets: Sequence[Target], y_true: np.ndarray, y_pred: np.ndarray) -> list[dict]:
    """One row per target: ``key``, ``unit`` (display), ``n`` labelled molecules, ``mae`` and
    ``rmse`` (display units), ``r2`` (coefficient of determination, 1 - SSE / SST; None with fewer
    than two labels or constant labels), ``chemical_accuracy`` (display units or None), ``ratio`` =
    MAE / chemical accuracy."""
    rows = []
    for j, t in enumerate(targets):
        ok = np.isfinite(y_true[:, j])
        err = y_pred[ok, j] - y_true[ok, j]
        mae = float(np.abs(err).mean()) if ok.any() else float("nan")
        rmse = float(np.sqrt(np.mean(err**2))) if ok.any() else float("nan")
        sst = float(np.sum((y_true[ok, j] - y_true[ok, j].mean()) ** 2)) if ok.sum() > 1 else 0.0
        r2 = 1.0 - float(np.sum(err**2)) / sst if sst > 0 else None
        mae_d = float(t.to_display(mae))
        acc = None if t.chemical_accuracy is None else float(t.to_display(t.chemical_accuracy))
        rows.append({"key": t.key, "unit": t.display_unit, "n": int(ok.sum()), "mae": mae_d,
                     "rmse": float(t.to_display(rmse)), "r2": r2,
                     "chemical_accuracy": acc, "ratio": None if acc is None else mae_d / acc})
    return rows


def delta_m(mae: Mapping[str, float], mae_stl: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    """Delta_m in percent over the tasks in both mappings, and each task's relative change (%).

    Args:
        mae: task key -> MAE of the method.
        mae_stl: task key -> MAE of single-task learning, same units.
    """
    common = [k for k in mae if k in mae_stl]
    if not common:
        raise InputError("the STL results share no task with this model")
    per = {}
    for k in common:
        if not mae_stl[k] > 0:
            raise InputError(f"the STL MAE of {k} must be positive, got {mae_stl[k]}")
        per[k] = 100.0 * (mae[k] - mae_stl[k]) / mae_stl[k]
    return float(np.mean(list(per.values()))), per


def read_stl_maes(path: str | Path, part: str = "test") -> dict[str, float]:
    """Per-task MAE (display units) on split part ``part`` (val or test; the model file stores
    both) of an STL run: a run folder / model file (its stored metrics), an ``evaluate`` folder or
    ``metrics.json`` (InputError if it is for another part), or a JSON ``{key: mae}``."""
    path = Path(path)
    if path.is_dir():
        for name in ("metrics.json", "model.pt"):
            if (path / name).is_file():
                return read_stl_maes(path / name, part)
        raise NotFoundError(f"{path} holds neither metrics.json nor model.pt")
    if not path.is_file():
        raise NotFoundError(f"STL results not found: {path}")
    if path.suffix == ".pt":
        rows = read_model_file(path).get("metrics", {}).get(part)
        if not rows:
            raise InputError(f"{path} stores no {part} metrics")
        return {r["key"]: float(r["mae"]) for r in rows}
    try:
        body = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON: {exc}") from None
    if isinstance(body, dict) and "targets" in body:
        if body.get("part") not in (None, part):  # Delta_m compares the same molecules only
            raise InputError(f"{path} holds {body['part']} metrics, but this evaluation is on the {part} part")
        return {r["key"]: float(r["mae"]) for r in body["targets"]}
    if isinstance(body, dict) and all(isinstance(v, (int, float)) for v in body.values()):
        return {k: float(v) for k, v in body.items()}
    raise InputError(f"{path} is neither molmtl metrics nor a JSON object of task -> MAE")


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return f"{v:.4g}"


def markdown_table(rows: Sequence[dict], per_task_delta: Mapping[str, float] | None = None,
                   stl: Mapping[str, float] | None = None) -> str:
    """Markdown table of :func:`target_metrics` rows (units in the headers)."""
    head = ["target", "unit", "n", "MAE [unit]", "RMSE [unit]", "R² [-]", "chem. acc. [unit]", "MAE / chem. acc. [-]"]
    if stl is not None:
        head += ["STL MAE [unit]", "change vs STL [%]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["key"], r["unit"], str(r["n"]), _fmt(r["mae"]), _fmt(r.get("rmse")), _fmt(r.get("r2")),
                 _fmt(r["chemical_accuracy"]), _fmt(r["ratio"])]
        if stl is not None:
            cells += [_fmt(stl.get(r["key"])), _fmt((per_task_delta or {}).get(r["key"]))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parity_plot(path: str | Path, targets: Sequence[Target], y_true: np.ndarray, y_pred: np.ndarray) -> Path:
    """Predicted vs. reference scatter per target (display units), one panel each, as PNG."""
    plt = pyplot()

    n = len(targets)
    cols = min(n, 5)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.0 * rows), squeeze=False)
    for j, t in enumerate(targets):
        ax = axes[j // cols][j % cols]
        ok = np.isfinite(y_true[:, j])
        x, y = t.to_display(y_true[ok, j]), t.to_display(y_pred[ok, j])
        ax.scatter(x, y, s=4, alpha=0.5)
        if ok.any():
            lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_title(t.key, fontsize=9)
        ax.set_xlabel(f"reference [{t.display_unit}]", fontsize=8)
        ax.set_ylabel(f"predicted [{t.display_unit}]", fontsize=8)
        ax.tick_params(labelsize=7)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.tight_layout()
    path = Path(path)
    save_png(fig, path)
    return path


def evaluation_result(targets: Sequence[Target], y_true: np.ndarray, y_pred: np.ndarray, *,
                      stl: Mapping[str, float] | None = None, meta: Mapping | None = None) -> dict:
    """The metrics dict of an evaluation: ``meta``, ``targets`` (:func:`target_metrics` rows) and,
    with STL MAEs, ``delta_m_percent`` and ``delta_m_per_task_percent``."""
    rows = target_metrics(targets, y_true, y_pred)
    result = {**(meta or {}), "targets": rows}
    if stl is not None:
        result["delta_m_percent"], result["delta_m_per_task_percent"] = delta_m({r["key"]: r["mae"] for r in rows}, stl)
    return result


def write_evaluation(out_dir: str | Path, targets: Sequence[Target], y_true: np.ndarray, y_pred: np.ndarray, *,
                     stl: Mapping[str, float] | None = None, meta: Mapping | None = None) -> dict:
    """Write ``metrics.json``, ``metrics.md`` and ``parity.png`` to ``out_dir``; return the metrics dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = evaluation_result(targets, y_true, y_pred, stl=stl, meta=meta)
    rows, per = result["targets"], result.get("delta_m_per_task_percent")
    md = markdown_table(rows, per, stl)
    if stl is not None:
        md += f"\nDelta_m vs STL: {result['delta_m_percent']:+.2f} % over {len(per)} tasks (lower is better)\n"
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2))
    with atomic_path(out / "metrics.md") as tmp:
        tmp.write_text(md)
    parity_plot(out / "parity.png", targets, y_true, y_pred)
    return result




def write_task_covariance(strategy, out_dir: str | Path) -> list[Path]:
    """An MRN model's learned task covariances (one per prior head layer, trace = number of tasks):
    ``task_covariance_<layer>.csv`` (T x T, labelled by task), ``task_covariance.md`` and a heatmap
    of the task correlations, ``task_correlation.png``. Nothing for other strategies."""
    if not hasattr(strategy, "task_covariance"):
        return []
    plt = pyplot()

    out = Path(out_dir)
    keys = list(strategy.tasks)
    layers = range(strategy.n_prior_layers)
    paths, md = [], ["Learned task covariance (MRN, Long et al. 2017), per head layer under the prior; "
                     "dimensionless [-], trace = number of tasks\n"]
    for n in layers:
        cov = strategy.task_covariance(n)
        path = out / f"task_covariance_{n}.csv"
        with atomic_path(path) as tmp:
            tmp.write_text("task," + ",".join(keys) + "\n" + "".join(
                f"{k}," + ",".join(f"{v:.6g}" for v in row) + "\n" for k, row in zip(keys, cov)))
        paths.append(path)
        md += [f"\nHead layer {n}:\n", "| [-] | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        md += [f"| {k} | " + " | ".join(f"{v:.3g}" for v in row) + " |" for k, row in zip(keys, cov)]
    with atomic_path(out / "task_covariance.md") as tmp:
        tmp.write_text("\n".join(md) + "\n")
    paths.append(out / "task_covariance.md")
    side = 0.28 * len(keys) + 1.2
    fig, axes = plt.subplots(1, len(layers), figsize=(side * len(layers) + 1.2, side + 0.4), squeeze=False,
                             layout="constrained")
    for n, ax in zip(layers, axes[0]):
        im = ax.imshow(strategy.task_correlation(n), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(keys)), keys, rotation=90, fontsize=7)
        ax.set_yticks(range(len(keys)), keys, fontsize=7)
        ax.set_title(f"head layer {n}", fontsize=8)
    fig.suptitle("MRN task correlation", fontsize=9)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.7, label="correlation [-]")
    save_png(fig, out / "task_correlation.png")
    paths.append(out / "task_correlation.png")
    return paths


def evaluate_model(model, part: str = "test", out_dir: str | Path | None = None, *,
                   stl: Mapping[str, float] | None = None, batch_size: int = 256, geometry: str | None = None,
                   limit: int | None = None) -> dict:
    """Evaluate a :class:`TrainedModel` on a part of the split it was trained with.

    The split is rebuilt from the model's config (same data, split spec and cut) and checked
    against the split id stored in the model file. ``geometry`` (``qm9`` or ``rdkit``; default:
    the model's own) picks the QM9 geometries the molecules are given with: ``rdkit`` shows what
    a QM9-geometry model makes of SMILES input. ``limit``: only the part's first ``limit``
    molecules (a quick look; the metrics say how many). With ``out_dir`` the JSON, Markdown and
    parity plot are written there.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"the molecule limit must be a positive whole number, got {limit!r}")
    if part not in ("train", "val", "test"):
        raise InputError(f"unknown split part {part!r}; use train, val or test")
    config, data = model_data(model, geometry)
    dataset = getattr(data, part)
    if limit is not None and limit < len(dataset):
        dataset = Subset(dataset, range(limit))
    if len(dataset) == 0:
        raise InputError(f"the {part} part of this model's split is empty")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    y, p = predict_dataset(model, dataset, batch_size=batch_size, device=device)
    meta = {"part": part, "n_molecules": len(dataset), "split": data.split.name, "split_id": data.split.id,
            "geometry": {"qm9": None, "rdkit": "RDKit ETKDG + MMFF from SMILES"}[config.geometry] if config.data is None else None,
            "encoder": model.config.encoder, "strategy": model.config.strategy, "weighting": model.config.weighting}
    if out_dir is None:
        return evaluation_result(model.targets, y, p, stl=stl, meta=meta)
    result = write_evaluation(out_dir, model.targets, y, p, stl=stl, meta=meta)
    write_task_covariance(model.strategy, out_dir)  # MRN models: their learned task relations
    return result


def csv_part(path: str | Path) -> str:
    """The ``part`` an evaluation on a labelled CSV records (its resolved path): STL metrics
    compare only with an evaluation on the same file."""
    return f"data:{Path(path).resolve()}"


def evaluate_csv(model, path: str | Path, out_dir: str | Path | None = None, *, smiles_column: str | None = None,
                 stl: Mapping[str, float] | None = None, batch_size: int = 256) -> dict:
    """Evaluate a :class:`TrainedModel` on a labelled CSV of SMILES (an external test set).

    The CSV's label columns are matched to the model's targets by name (QM9 keys may carry a
    unit in brackets, as in training CSVs; other columns are ignored); the targets without a
    column are left out. Molecules the model cannot predict (elements it was not trained on, a
    charge, a SMILES RDKit cannot read or embed) are skipped with their reasons in
    ``predictions.csv`` and a warning; if none is left, InputError. 3D models see RDKit geometries
    (ETKDG + MMFF, from :mod:`molmtl.data.geometries`' store), not the reference method's: for a
    QM9 model that adds the difference between MMFF and B3LYP geometries to its error.

    With ``out_dir``: ``metrics.json``, ``metrics.md``, ``parity.png`` and ``predictions.csv``
    (labels and predictions in display units, units in the headers, an ``error`` column).
    """
    table = read_csv(path, smiles_column=smiles_column, tasks=model.keys, validate=False)
    column = {t.key: j for j, t in enumerate(table.targets)}
    cols = [j for j, k in enumerate(model.keys) if k in column]
    if not cols:
        raise InputError(f"{path} has no label column for any of the model's targets ({', '.join(model.keys)})")
    targets = [model.targets[j] for j in cols]
    labels = np.stack([table.y[:, column[model.keys[j]]] for j in cols], axis=1)
    values, errors = predict_smiles(model, table.smiles, names=table.names, batch_size=batch_size)
    ok = np.array([e is None for e in errors])
    if not ok.any():
        raise InputError(f"no molecule of {path} can be evaluated; the first: {errors[0]}")
    skipped = int((~ok).sum())
    if skipped:
        first = next(e for e in errors if e is not None)
        log.warning("%d of %d molecules of %s skipped (their reasons are in predictions.csv); the first: %s",
                    skipped, len(ok), path, first)
    y, p = labels[ok], values[ok][:, cols]
    meta = {"part": csv_part(path), "data": str(Path(path).resolve()), "n_molecules": int(ok.sum()), "n_skipped": skipped,
            "geometry": "RDKit ETKDG + MMFF from SMILES" if model.needs_geometry else None,
            "encoder": model.config.encoder, "strategy": model.config.strategy, "weighting": model.config.weighting}
    if out_dir is None:
        return evaluation_result(targets, y, p, stl=stl, meta=meta)
    result = write_evaluation(out_dir, targets, y, p, stl=stl, meta=meta)
    head = ["name", "smiles", *(column_header(t.key, t.display_unit) for t in targets),
            *(column_header(f"{t.key} predicted", t.display_unit) for t in targets), "error"]
    with atomic_path(Path(out_dir) / "predictions.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(head)
        for i, (name, smi) in enumerate(zip(table.names, table.smiles)):
            label = ["" if not np.isfinite(v) else f"{float(t.to_display(v)):.8g}" for t, v in zip(targets, labels[i])]
            pred = ["" if errors[i] else f"{float(t.to_display(values[i, j])):.8g}" for t, j in zip(targets, cols)]
            writer.writerow([name, smi, *label, *pred, errors[i] or ""])
    return result


__all__ = ["target_metrics", "delta_m", "read_stl_maes", "markdown_table", "parity_plot", "evaluate_model",
           "evaluate_csv", "csv_part", "evaluation_result", "write_evaluation", "write_task_covariance"]
