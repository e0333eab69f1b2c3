r"""Groupings compared on one budget: clustered (one run per grouping) vs all-task vs single-task.

For each grouping file, a clustered model (hard sharing inside each group, one encoder per group,
``--strategy clustered``); one all-task hard-sharing model; every task alone (the runs
``transfer`` and ``gains`` share). Each with ``seeds`` seeds; the table holds the test MAE per
property (display units, mean over seeds, +- their standard deviation with two or more) and
Delta_m against single-task learning,

.. math::
    \Delta_m = \frac{100}{T} \sum_t \frac{\mathrm{MAE}_t - \mathrm{MAE}^{STL}_t}{\mathrm{MAE}^{STL}_t} \quad [\%]

(lower is better; :func:`molmtl.training.evaluate.delta_m`). A second table compares, group by
group, each grouping's clustered model with the all-task model on that group's tasks (the mean
relative change [%] and how many of its tasks it improves): "is training this group alone better
than training all tasks together?".
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtl.data.cache import atomic_path
from molmtl.errors import InputError
from molmtl.mtl.grouping import load_grouping
from molmtl.relate.base import Study, write_summary
from molmtl.relate.gains import single_spec
from molmtl.relate.plots import relative_bars
from molmtl.relate.runs import RunSpec, train_runs
from molmtl.relate.tables import checked_grouping, groups_text
from molmtl.training.evaluate import delta_m

log = logging.getLogger(__name__)


def clustered_spec(config, stem: str, groups: list[list[str]], seed: int) -> RunSpec:
    cfg = config.replace(strategy="clustered", strategy_hp={"groups": [list(g) for g in groups]},
                         tasks=tuple(config.tasks), seed=int(seed))
    return RunSpec(f"clustered-{stem}-seed{seed}", cfg)


def all_task_spec(config, seed: int) -> RunSpec:
    return RunSpec(f"all-seed{seed}", config.replace(strategy="hard", strategy_hp={}, seed=int(seed)))


def read_groupings(paths: Sequence[str | Path], tasks: Sequence[str]) -> dict[str, list[list[str]]]:
    """Grouping files -> ``stem -> groups`` (checked to partition the study's tasks; stems unique)."""
    out: dict[str, list[list[str]]] = {}
    for path in paths:
        path = Path(path)
        groups = checked_grouping(load_grouping(path), tasks, source=f"grouping file {str(path)!r}")
        stem = path.stem if path.stem not in out and path.stem != "groups" else f"{path.parent.name}-{path.stem}"
        if stem in out:
            raise InputError(f"two grouping files are both called {path.name}; give them different names")
        out[stem] = groups
    return out


def _mean_sd(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else float("nan")


def run_compare(study: Study, paths: Sequence[str | Path], *, seeds: int = 1, name: str | None = None) -> dict:
    """Train (or keep) the runs and write ``compare/<name>/``: ``compare.csv``, ``compare.md``,
    ``compare.png`` and ``summary.json``. Returns the summary."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise InputError(f"--seeds must be a whole number >= 1, got {seeds!r}")
    tasks, config = study.tasks, study.config
    groupings = read_groupings(paths, tasks)
    start = time.perf_counter()
    seed_list = [config.seed + k for k in range(seeds)]
    methods: dict[str, list[RunSpec]] = {f"clustered: {stem}": [clustered_spec(config, stem, g, s) for s in seed_list]
                                         for stem, g in groupings.items()}
    methods["all-task"] = [all_task_spec(config, s) for s in seed_list]
    singles = {t: [single_spec(config, t, s) for s in seed_list] for t in tasks}
    specs = [s for runs in methods.values() for s in runs] + [s for runs in singles.values() for s in runs]
    outcomes = train_runs(specs, study.out, client=study.client, threads=study.threads, progress=study.progress,
                          desc="compare")
    units = {t: outcomes[singles[t][0].label].units[t] for t in tasks}
    table = {m: {t: _mean_sd([outcomes[s.label].test[t] for s in runs]) for t in tasks} for m, runs in methods.items()}
    table["single-task"] = {t: _mean_sd([outcomes[s.label].test[t] for s in singles[t]]) for t in tasks}
    stl = {t: table["single-task"][t][0] for t in tasks}
    deltas = {m: delta_m({t: v[0] for t, v in col.items()}, stl)[0] for m, col in table.items()}
    per_group = []
    for stem, groups in groupings.items():
        col, ref = table[f"clustered: {stem}"], table["all-task"]
        for g in groups:
            change = [100.0 * (col[t][0] - ref[t][0]) / ref[t][0] for t in g]
            per_group.append({"grouping": stem, "group": g, "change_vs_all_percent": float(np.mean(change)),
                              "better": int(sum(c < 0 for c in change)), "size": len(g)})
    folder_name = name or ("+".join(groupings) + "-" + RunSpec("budget", config).key[:6])
    out = study.folder(f"compare/{folder_name}")
    _write(out, tasks, units, table, deltas, per_group, seeds)
    relative = {m: [100.0 * (col[t][0] - stl[t]) / stl[t] for t in tasks] for m, col in table.items() if m != "single-task"}
    relative_bars(out / "compare.png", tasks, relative, ylabel="test MAE vs single-task [%]",
                  title=f"lower is better; {config.max_molecules or 'all'} training molecules, {config.epochs} epochs, "
                        f"{config.encoder}, {seeds} seed(s)")
    train_s = sum(r.wall_s for r in outcomes.values())
    body = {"folder": str(out), "tasks": tasks, "seeds": seeds, "groupings": groupings, "delta_m": deltas,
            "per_group": per_group, "wall_s": train_s, "command_wall_s": time.perf_counter() - start,
            "run_wall_s": {m: sum(outcomes[s.label].wall_s for s in runs) for m, runs in methods.items()}
            | {"single-task": sum(outcomes[s.label].wall_s for runs in singles.values() for s in runs)},
            "runs": len(specs), "runs_kept": sum(r.kept for r in outcomes.values()), "config": config.to_dict()}
    write_summary(out, body)
    for stem, groups in groupings.items():
        log.info("compare: %s = %s: Delta_m %+.2f %% (all-task %+.2f %%)", stem, groups_text(groups),
                 deltas[f"clustered: {stem}"], deltas["all-task"])
    return body


def _fmt(mean: float, sd: float) -> str:
    return f"{mean:.4g}" + (f" ± {sd:.2g}" if np.isfinite(sd) else "")


def _write(out: Path, tasks, units, table, deltas, per_group, seeds: int) -> None:
    methods = list(table)
    with atomic_path(out / "compare.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["property", "unit", *(f"{m} test MAE [unit]" for m in methods),
                    *(f"{m} sd [unit]" for m in methods)])
        for t in tasks:
            w.writerow([t, units[t], *(f"{table[m][t][0]:.6g}" for m in methods),
                        *("" if not np.isfinite(table[m][t][1]) else f"{table[m][t][1]:.4g}" for m in methods)])
        w.writerow(["Delta_m vs single-task", "%", *(f"{deltas[m]:.4g}" for m in methods), *([""] * len(methods))])
    lines = [f"Test MAE per property (display units; mean over {seeds} seed(s)" + (", ± sd" if seeds > 1 else "")
             + "); Delta_m vs single-task [%], lower is better\n",
             "| property | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for t in tasks:
        best = min(methods, key=lambda m: table[m][t][0])
        cells = [("**" + _fmt(*table[m][t]) + "**") if m == best else _fmt(*table[m][t]) for m in methods]
        lines.append(f"| {t} [{units[t]}] | " + " | ".join(cells) + " |")
    lines.append("| Delta_m [%] | " + " | ".join(f"{deltas[m]:+.2f}" for m in methods) + " |")
    lines += ["", "Each group's clustered model vs the all-task model on the group's tasks\n",
              "| grouping | group | tasks | mean change vs all-task [%] | tasks better |", "|---|---|---|---|---|"]
    lines += [f"| {r['grouping']} | {', '.join(r['group'])} | {r['size']} | {r['change_vs_all_percent']:+.2f} | "
              f"{r['better']} of {r['size']} |" for r in per_group]
    with atomic_path(out / "compare.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


__all__ = ["all_task_spec", "clustered_spec", "read_groupings", "run_compare"]
