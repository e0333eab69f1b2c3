r"""The ground truth: measured pairwise gains of two-task hard sharing over single-task learning.

Every unordered pair :math:`\{i, j\}` of the study's tasks is trained as a two-task hard-sharing
model (one seed), every task alone with :math:`S \ge 2` seeds, all on the study's budget. The
gain of task :math:`i` from partner :math:`j`, on the test part (display units), is

.. math::
    G_{ij} = 100 \, \frac{\overline{\mathrm{MAE}}^{\,STL}_i - \mathrm{MAE}^{\{i,j\}}_i}
    {\overline{\mathrm{MAE}}^{\,STL}_i} \quad [\%]

(positive: the pair is better; :math:`\overline{\mathrm{MAE}}^{STL}_i` is the mean over the
seeds). The seed noise of task :math:`i` is the relative standard deviation of one single-task
run, :math:`\sigma_i = 100\, s_i / \overline{\mathrm{MAE}}^{STL}_i`; the difference of one pair
run and an :math:`S`-seed mean has standard deviation :math:`\sigma_i \sqrt{1 + 1/S}`, and a gain
counts as *significant* when :math:`|G_{ij}| > 2 \sigma_i \sqrt{1 + 1/S}` (about 95 % if the
runs' noise is Gaussian and the pair run is as noisy as a single-task one). Standley et al.,
"Which Tasks Should Be Learned Together in Multi-task Learning?", ICML 2020, measured such pair
gains to choose groupings; :func:`molmtl.relate.cluster.best_partition` does so here too.
"""

from __future__ import annotations

import csv
import logging
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from molmtl.config import TrainConfig
from molmtl.data.cache import atomic_path
from molmtl.errors import InputError
from molmtl.relate.base import Study, write_summary
from molmtl.relate.cluster import best_partition, check_k
from molmtl.relate.plots import heatmaps
from molmtl.relate.runs import RunOutcome, RunSpec, train_runs
from molmtl.relate.tables import groups_text, read_matrix, write_grouping, write_matrix

log = logging.getLogger(__name__)

#: The fewest single-task seeds that give a noise estimate (the study uses 3).
MIN_SEEDS = 2


def single_spec(config: TrainConfig, task: str, seed: int) -> RunSpec:
    """Task ``task`` alone with ``seed`` on ``config``'s budget (shared by transfer, gains and compare)."""
    cfg = config.replace(tasks=(task,), strategy="single", strategy_hp={}, weighting="equal", weighting_hp={},
                         task_weights={}, seed=int(seed))
    return RunSpec(f"single-{task}-seed{seed}", cfg)


def pair_spec(config: TrainConfig, a: str, b: str, seed: int) -> RunSpec:
    """Tasks ``a`` and ``b`` with hard sharing on ``config``'s budget (its weighting)."""
    cfg = config.replace(tasks=(a, b), strategy="hard", strategy_hp={}, task_weights={}, seed=int(seed))
    return RunSpec(f"pair-{a}-{b}-seed{seed}", cfg)


def single_seeds(config: TrainConfig, seeds: int) -> list[int]:
    return [config.seed + k for k in range(seeds)]


def stl_table(outcomes: dict[str, RunOutcome], config: TrainConfig, seeds: int, part: str = "test") -> dict:
    """Per task: MAE of each seed, their mean and standard deviation (display units), unit."""
    table = {}
    for task in config.tasks:
        runs = [outcomes[single_spec(config, task, s).label] for s in single_seeds(config, seeds)]
        values = np.array([getattr(r, part)[task] for r in runs], dtype=float)
        table[task] = {"unit": runs[0].units[task], "values": values.tolist(), "mean": float(values.mean()),
                       "sd": float(values.std(ddof=1)) if len(values) > 1 else float("nan")}
    return table


def gain_matrix(tasks, stl: dict, pair_mae: dict[tuple[str, str], float], seeds: int):
    """``(G, noise, threshold)``: gains ``G[i, j]`` [%] (NaN on the diagonal), each task's one-run
    noise :math:`\\sigma_i` [%] and its significance threshold :math:`2 \\sigma_i \\sqrt{1 + 1/S}` [%]."""
    T = len(tasks)
    gains = np.full((T, T), np.nan)
    for i, a in enumerate(tasks):
        for j, b in enumerate(tasks):
            if i != j:
                gains[i, j] = 100.0 * (stl[a]["mean"] - pair_mae[(a, b)]) / stl[a]["mean"]
    noise = np.array([100.0 * stl[t]["sd"] / stl[t]["mean"] for t in tasks])
    return gains, noise, 2.0 * noise * np.sqrt(1.0 + 1.0 / seeds)


def _pair_maes(outcomes: dict[str, RunOutcome], config: TrainConfig, pairs, part: str) -> dict[tuple[str, str], float]:
    """``(task, partner) -> MAE of task in the pair's run`` on ``part`` (display units)."""
    out = {}
    for a, b in pairs:
        run = getattr(outcomes[pair_spec(config, a, b, config.seed).label], part)
        out[(a, b)], out[(b, a)] = run[a], run[b]
    return out


def run_gains(study: Study, *, seeds: int = 3, groups: int | None = None) -> dict:
    """Train (or keep) the study's pair and single-task runs and write ``gains/``: ``gains.csv``
    (one row per task and partner), ``gains_matrix.csv`` [%], ``single_task.csv``, ``gains.md``,
    ``gains.png``, ``groups.json`` (the partition of highest total gain on the validation part: the
    gains shown are the test part's, on which ``relate compare`` judges groupings) and ``summary.json``."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < MIN_SEEDS:
        raise InputError(f"--seeds must be a whole number >= {MIN_SEEDS} (the single-task noise needs it), got {seeds!r}")
    tasks, config = study.tasks, study.config
    check_k(groups, len(tasks))
    start = time.perf_counter()
    specs = [single_spec(config, t, s) for t in tasks for s in single_seeds(config, seeds)]
    pairs = list(combinations(tasks, 2))
    specs += [pair_spec(config, a, b, config.seed) for a, b in pairs]
    outcomes = train_runs(specs, study.out, client=study.client, threads=study.threads, progress=study.progress,
                          desc="gains")
    stl = stl_table(outcomes, config, seeds)
    pair_mae = _pair_maes(outcomes, config, pairs, "test")
    gains, noise, threshold = gain_matrix(tasks, stl, pair_mae, seeds)
    # the grouping is chosen on the validation part: relate compare judges groupings on the test part
    val_gains, _, _ = gain_matrix(tasks, stl_table(outcomes, config, seeds, "val"),
                                  _pair_maes(outcomes, config, pairs, "val"), seeds)
    grouping, info = best_partition(np.nan_to_num(val_gains), tasks, groups)
    out = study.folder("gains")
    _write_tables(out, tasks, stl, pair_mae, gains, noise, threshold, seeds)
    write_matrix(out / "gains_matrix.csv", gains, tasks, corner="gain of row task with column partner [%]")
    significant = np.abs(gains) > threshold[:, None]
    heatmaps(out / "gains.png", [("measured gain G_ij [%]", gains),
                                 ("gains beyond the seed noise [%]", np.where(significant, gains, np.nan))],
             tasks, label="gain over single-task [%]", ylabel="task i", xlabel="partner j")
    write_grouping(out / "groups.json", grouping, tasks)
    train_s = sum(r.wall_s for r in outcomes.values())
    body = {"tasks": tasks, "seeds": seeds, "part": "test", "pairs": len(pairs), "runs": len(specs),
            "runs_kept": sum(r.kept for r in outcomes.values()), "wall_s": train_s,
            "command_wall_s": time.perf_counter() - start, "noise_percent": dict(zip(tasks, noise.tolist())),
            "significant_gains": int(np.nansum(significant)), "directed_pairs": len(tasks) * (len(tasks) - 1),
            "groups": grouping, "grouping": {**info, "part": "val"}, "config": config.to_dict()}
    write_summary(out, body)
    log.info("gains: %d of %d directed gains beyond the seed noise; grouping %s", body["significant_gains"],
             body["directed_pairs"], groups_text(grouping))
    return body


def _write_tables(out: Path, tasks, stl, pair_mae, gains, noise, threshold, seeds) -> None:
    index = {t: i for i, t in enumerate(tasks)}
    with atomic_path(out / "gains.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["task", "partner", "unit", "single-task MAE, seed mean [unit]", "single-task MAE sd [unit]",
                    "pair MAE [unit]", "gain [%]", "one-run noise [%]", "threshold [%]", "significant"])
        for a in tasks:
            for b in tasks:
                if a == b:
                    continue
                i, j = index[a], index[b]
                w.writerow([a, b, stl[a]["unit"], f"{stl[a]['mean']:.6g}", f"{stl[a]['sd']:.4g}",
                            f"{pair_mae[(a, b)]:.6g}", f"{gains[i, j]:.4g}", f"{noise[i]:.4g}", f"{threshold[i]:.4g}",
                            "yes" if abs(gains[i, j]) > threshold[i] else "no"])
    with atomic_path(out / "single_task.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["task", "unit", *(f"MAE seed {k} [unit]" for k in range(seeds)), "mean [unit]", "sd [unit]",
                    "one-run noise [%]"])
        for t in tasks:
            w.writerow([t, stl[t]["unit"], *(f"{v:.6g}" for v in stl[t]["values"]), f"{stl[t]['mean']:.6g}",
                        f"{stl[t]['sd']:.4g}", f"{noise[index[t]]:.4g}"])
    lines = [f"Single-task test MAE over {seeds} seeds (display units) and one run's noise\n",
             "| task | unit | mean | sd | noise [%] |", "|---|---|---|---|---|"]
    lines += [f"| {t} | {stl[t]['unit']} | {stl[t]['mean']:.4g} | {stl[t]['sd']:.2g} | {noise[index[t]]:.2g} |"
              for t in tasks]
    lines += ["", "Gain G_ij [%] of the row task i trained with partner j (test MAE vs its single-task mean); "
                  "* beyond 2 sigma_i sqrt(1 + 1/S)\n"]
    marked = [[("-" if i == j else f"{gains[i, j]:.1f}" + ("*" if abs(gains[i, j]) > threshold[i] else ""))
               for j in range(len(tasks))] for i in range(len(tasks))]
    lines += ["| i \\ j | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    lines += [f"| {t} | " + " | ".join(row) + " |" for t, row in zip(tasks, marked)]
    with atomic_path(out / "gains.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def read_gains(out: str | Path) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The tasks, gain matrix [%] and per-task significance thresholds [%] of a study's ``gains/``."""
    folder = Path(out) / "gains"
    tasks, gains = read_matrix(folder / "gains_matrix.csv")
    threshold = np.full(len(tasks), np.nan)
    with open(folder / "gains.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            threshold[tasks.index(row["task"])] = float(row["threshold [%]"])
    return tasks, gains, threshold


__all__ = [
    "MIN_SEEDS",
    "gain_matrix",
    "pair_spec",
    "read_gains",
    "run_gains",
    "single_seeds",
    "single_spec",
    "stl_table",
]
