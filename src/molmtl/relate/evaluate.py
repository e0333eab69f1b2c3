r"""How well each cheap measure ranks the measured pair gains, and what it costs.

For a measure's scores :math:`S` and the measured gains :math:`G` (``relate gains``), both
oriented "row task helped by column task", the study's tasks give

* 171 (for 19 tasks) unordered pairs: :math:`x_{ij} = (S_{ij} + S_{ji})/2`,
  :math:`y_{ij} = (G_{ij} + G_{ji})/2` (the pair's mean gain), for :math:`i < j`;
* 342 ordered pairs: :math:`x_{ij} = S_{ij}`, :math:`y_{ij} = G_{ij}` (one task's gain from its
  partner), and the subset of them whose gain exceeds the seed noise.

Each gets Spearman's :math:`\rho` (Pearson's correlation of the ranks, ties at their mean rank)
and a 95 % percentile interval from ``bootstrap`` resamples of the pairs with replacement (pairs
that share a task are not independent, so the interval is, if anything, too narrow). The cost is
the measure's wall time, trainings it needed included (``summary.json`` of its folder).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from molmtl.data.cache import atomic_path
from molmtl.errors import InputError, NotFoundError
from molmtl.relate.base import Scores, write_summary
from molmtl.relate.gains import read_gains
from molmtl.relate.plots import scatter_panels
from molmtl.relate.registry import RELATEDNESS

log = logging.getLogger(__name__)


def spearman(x, y) -> float:
    """Spearman's rank correlation of two equally long vectors (NaN pairs left out; NaN when
    fewer than 3 remain or one side is constant)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    rx, ry = rankdata(x[ok]), rankdata(y[ok])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / denominator) if denominator > 0 else float("nan")


def spearman_interval(x, y, *, bootstrap: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Spearman's rho and its bootstrap percentile interval ``(rho, low, high)``."""
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
        raise InputError(f"--bootstrap must be a whole number >= 0, got {bootstrap!r}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rho = spearman(x, y)
    if bootstrap == 0 or len(x) < 3:
        return rho, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = np.array([spearman(x[idx], y[idx]) for idx in rng.integers(0, len(x), size=(bootstrap, len(x)))])
    draws = draws[np.isfinite(draws)]
    if not draws.size:
        return rho, float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return rho, float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))


def pair_vectors(scores, gains, *, directed: bool) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """The ``(x, y, pairs)`` a comparison ranks: ordered pairs ``i != j`` or unordered ``i < j``
    (symmetrized means)."""
    s, g = np.asarray(scores, dtype=float), np.asarray(gains, dtype=float)
    T = len(s)
    if directed:
        pairs = [(i, j) for i in range(T) for j in range(T) if i != j]
        return np.array([s[i, j] for i, j in pairs]), np.array([g[i, j] for i, j in pairs]), pairs
    pairs = [(i, j) for i in range(T) for j in range(i + 1, T)]
    return (np.array([(s[i, j] + s[j, i]) / 2 for i, j in pairs]), np.array([(g[i, j] + g[j, i]) / 2 for i, j in pairs]),
            pairs)


def _aligned(score: Scores, tasks: Sequence[str]) -> np.ndarray:
    if set(score.tasks) != set(tasks):
        raise InputError(f"{score.label} was measured on other tasks ({', '.join(score.tasks)}) than the gains "
                         f"({', '.join(tasks)})")
    order = [score.tasks.index(t) for t in tasks]
    return score.matrix[np.ix_(order, order)]


def measure_names(out: Path, names: Sequence[str] | None) -> list[str]:
    """The measures to evaluate: ``names`` checked against the registry, else every registered
    one whose results the study folder holds."""
    if names is not None:
        if not names:
            raise InputError("--measures names no measure")
        return [RELATEDNESS.canonical(n) for n in names]
    found = [n for n in RELATEDNESS.names() if (Path(out) / RELATEDNESS.get(n).folder / "summary.json").is_file()]
    if not found:
        raise NotFoundError(f"{out} holds no relatedness measure yet: run 'molmtl relate correlation|transfer|tag "
                            f"--out {out}' first")
    return found


def evaluate_scores(scores: Sequence[Scores], tasks, gains, threshold, *, bootstrap: int = 1000, seed: int = 0) -> list[dict]:
    """One row per score matrix: Spearman's rho against the gains over unordered, ordered and
    significant ordered pairs, with bootstrap intervals, and the measure's cost."""
    significant = np.abs(gains) > np.asarray(threshold)[:, None]
    rows = []
    for score in scores:
        s = _aligned(score, tasks)
        x, y, _ = pair_vectors(s, gains, directed=False)
        rho, lo, hi = spearman_interval(x, y, bootstrap=bootstrap, seed=seed)
        xd, yd, pairs = pair_vectors(s, gains, directed=True)
        rho_d, lo_d, hi_d = spearman_interval(xd, yd, bootstrap=bootstrap, seed=seed)
        keep = np.array([significant[i, j] for i, j in pairs])
        rho_s, lo_s, hi_s = spearman_interval(xd[keep], yd[keep], bootstrap=bootstrap, seed=seed)
        rows.append({"measure": score.label, "pairs": len(x), "rho": rho, "rho_low": lo, "rho_high": hi,
                     "directed_pairs": len(xd), "rho_directed": rho_d, "rho_directed_low": lo_d,
                     "rho_directed_high": hi_d, "significant_pairs": int(keep.sum()), "rho_significant": rho_s,
                     "rho_significant_low": lo_s, "rho_significant_high": hi_s, "wall_s": score.wall_s,
                     "_x": x, "_y": y})
    return rows


def run_evaluate(out: str | Path, names: Sequence[str] | None = None, *, bootstrap: int = 1000, seed: int = 0) -> list[dict]:
    """Evaluate the study folder's measures against its gains; writes ``evaluate/`` (CSV, Markdown,
    PNG, ``summary.json``) and returns the rows."""
    out = Path(out)
    if not (out / "gains" / "gains_matrix.csv").is_file():
        raise NotFoundError(f"{out} holds no measured gains: run 'molmtl relate gains --out {out}' first")
    tasks, gains, threshold = read_gains(out)
    cost = gains_cost(out)
    scores = [s for name in measure_names(out, names) for s in RELATEDNESS.build(name).scores(out)]
    rows = evaluate_scores(scores, tasks, gains, threshold, bootstrap=bootstrap, seed=seed)
    folder = out / "evaluate"
    folder.mkdir(parents=True, exist_ok=True)
    header = ["measure", "pairs", "Spearman rho [-]", "rho 95% low [-]", "rho 95% high [-]", "ordered pairs",
              "rho ordered [-]", "rho ordered low [-]", "rho ordered high [-]", "significant ordered pairs",
              "rho significant [-]", "rho significant low [-]", "rho significant high [-]", "wall time [s]",
              "cost / gains' cost [-]"]
    keys = ["measure", "pairs", "rho", "rho_low", "rho_high", "directed_pairs", "rho_directed", "rho_directed_low",
            "rho_directed_high", "significant_pairs", "rho_significant", "rho_significant_low",
            "rho_significant_high", "wall_s"]
    with atomic_path(folder / "evaluate.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([_cell(r[k]) for k in keys] + [_cell(r["wall_s"] / cost if cost > 0 else float("nan"))])
    lines = [f"Spearman rho of each measure against the measured pair gains ({len(tasks)} tasks; 95 % bootstrap "
             f"intervals, {bootstrap} resamples); the gains cost {cost:.0f} s\n",
             "| measure | rho, pairs | rho, ordered pairs | rho, significant ordered pairs | wall time [s] |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['measure']} | {_ci(r, 'rho')} ({r['pairs']}) | {_ci(r, 'rho_directed')} "
                     f"({r['directed_pairs']}) | {_ci(r, 'rho_significant')} ({r['significant_pairs']}) | "
                     f"{r['wall_s']:.0f} |")
    with atomic_path(folder / "evaluate.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    scatter_panels(folder / "evaluate.png", [(r["measure"], r["_x"], r["_y"], f"rho = {r['rho']:+.2f}") for r in rows],
                   ylabel="pair's mean gain [%]")
    plain = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    write_summary(folder, {"tasks": tasks, "bootstrap": bootstrap, "seed": seed, "gains_wall_s": cost,
                           "rows": plain})
    return plain


def gains_cost(out: Path) -> float:
    """The wall time [s] of a study's measured gains (all their trainings)."""
    return float(json.loads((Path(out) / "gains" / "summary.json").read_text())["wall_s"])


def _cell(v) -> str:
    if isinstance(v, float):
        return "" if not np.isfinite(v) else f"{v:.4g}"
    return str(v)


def _ci(r: dict, key: str) -> str:
    if not np.isfinite(r[key]):
        return "-"
    low, high = r[f"{key}_low"], r[f"{key}_high"]
    interval = f" [{low:+.2f}, {high:+.2f}]" if np.isfinite(low) else ""
    return f"{r[key]:+.2f}{interval}"


__all__ = ["evaluate_scores", "measure_names", "pair_vectors", "run_evaluate", "spearman", "spearman_interval"]
