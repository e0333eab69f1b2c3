"""``molmtl relate correlation | transfer | tag | gains | evaluate | compare``: which tasks to learn together.

Every command works in one study folder (``--out``): its own subfolder for results, ``runs/``
for every training (shared between commands on the same budget, kept on rerun). The budget
options are ``train``'s (generated from TrainConfig; ``--config FILE`` too); ``--tasks`` picks
the tasks studied (default: all 19).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import typer

from molmtl.cli.options import (
    RegistryHelp,
    build_config,
    config_parameters,
    split_values,
    with_parameters,
)
from molmtl.config import TrainConfig
from molmtl.errors import InputError
from molmtl.fanout import close_client, make_client
from molmtl.relate.registry import RELATEDNESS

log = logging.getLogger(__name__)

relate_app = typer.Typer(help="Which QM9 tasks should be learned together: label correlations, cross-task transfer, "
                              "TAG and gradient affinities, measured pair gains, and groupings compared.",
                         no_args_is_help=True)

#: train's options that relate commands do not take: each command fixes its own strategy.
STUDY_EXCLUDE = ("strategy", "strategy_opt", "init_from", "lam", "group_lasso", "groups")
#: What ``relate correlation`` reads: the data and the split (no model is trained).
DATA_FIELDS = ("tasks", "data", "smiles_column", "geometry", "split", "split_sizes", "max_molecules")
#: What TAG's own training loop does not do (one process, fp32, equal weights over tasks, full epochs).
TAG_EXCLUDE = (*STUDY_EXCLUDE, "weighting", "weighting_opt", "task_weights", "ema", "compile", "device_data",
               "trim_to", "sort_window", "num_workers", "precision", "devices", "early_stopping", "schedule",
               "plateau_factor", "plateau_patience")


def register(app: typer.Typer) -> None:
    app.add_typer(relate_app, name="relate")


OutOption = typer.Option(..., "--out", "-o", help="The study folder (each command writes its subfolder; trainings in runs/).")
ProtocolOption = typer.Option("standard", help="Preset under the budget options: standard or libmtl.")
ConfigOption = typer.Option(None, "--config", help="A TOML, YAML or JSON file of config fields (the budget); options given here override it.")
WorkersOption = typer.Option(1, "--workers", help="Dask LocalCluster worker processes for the trainings; 0 trains in this process.")
SchedulerOption = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler (e.g. dask-jobqueue on SLURM, one worker per GPU) instead of a LocalCluster.")
ThreadsOption = typer.Option(1, "--threads", help="Torch threads per training.")
ProgressOption = typer.Option(True, "--progress/--no-progress", help="Show progress bars.")
GroupsKOption = typer.Option(None, "--groups", help="Number of groups K (default: chosen by the method's criterion).")


def _check_fanout(workers: int, threads: int) -> None:
    if workers < 0 or threads < 1:
        raise InputError(f"--workers must be >= 0 and --threads >= 1, got {workers} and {threads}")


def _budget(protocol: str, config_file: Path | None, values: dict) -> TrainConfig:
    """The study's TrainConfig from the protocol, the config file and the given options."""
    from molmtl.training.run import (
        check_plugins,  # lazy: Lightning takes seconds to import
    )

    fields_given, plugins, aliases = split_values(values)
    config = build_config(protocol, config_file=config_file, values=fields_given, plugin_pairs=plugins, aliases=aliases)
    check_plugins(config)
    return config


@contextmanager
def _study(out: Path, config: TrainConfig, *, workers: int = 0, scheduler: str | None = None, threads: int = 1,
           progress: bool = True):
    """A :class:`~molmtl.relate.base.Study` with its Dask client (closed afterwards); this process's
    own work (head fits, TAG's run, in-process trainings) uses ``threads`` torch threads: on 2 shared
    cores a second OpenMP thread made the transfer head fits four times slower."""
    import torch  # lazy: torch (a second to import) only once a study runs

    from molmtl.relate.base import Study  # lazy: torch and the training stack

    _check_fanout(workers, threads)
    study = Study(out, config, threads=threads, progress=progress)  # checks the tasks before a cluster starts
    client = make_client(scheduler, n_workers=workers, threads_per_task=threads) if (scheduler or workers > 0) else None
    study.client = client
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield study
    finally:
        torch.set_num_threads(before)
        close_client(client)


def _done(what: str, start: float, folder: Path) -> None:
    typer.echo(f"{what} written to {folder} ({time.perf_counter() - start:.1f} s)")


def _params(exclude: tuple[str, ...]) -> list:
    return config_parameters(exclude=exclude)


# ---------------------------------------------------------------------- correlation
def correlation_cmd(
    out: Path = OutOption,
    threshold: float = typer.Option(0.8, help="Edge of the correlation graph where |r| >= this (0 < t <= 1); its connected components are the groups."),
    method: str = typer.Option("pearson", help="Which correlation the graph uses: pearson or spearman."),
    protocol: str = ProtocolOption,
    config_file: Path = ConfigOption,
    **values,
) -> None:
    """Pearson and Spearman correlations of the tasks' labels on the training split; heatmap, graph, groups."""
    start = time.perf_counter()
    measure = RELATEDNESS.build("correlation", threshold=threshold, method=method)
    config = _budget(protocol, config_file, values)
    with _study(out, config) as study:
        result = measure.compute(study)
    typer.echo(f"groups (|{method}| >= {threshold:g}): " + ", ".join("(" + ", ".join(g) + ")" for g in result.groups))
    _done("correlations", start, out / measure.folder)


# ---------------------------------------------------------------------- transfer
def transfer_cmd(
    out: Path = OutOption,
    groups: int = GroupsKOption,
    head_epochs: int = typer.Option(None, help="Epochs of fitting the fresh heads on each frozen encoder (default: --epochs)."),
    protocol: str = ProtocolOption,
    config_file: Path = ConfigOption,
    workers: int = WorkersOption,
    scheduler: str = SchedulerOption,
    threads: int = ThreadsOption,
    progress: bool = ProgressOption,
    **values,
) -> None:
    """Cross-task transfer: one single-task encoder per task; fresh heads for every task on each frozen encoder."""
    start = time.perf_counter()
    measure = RELATEDNESS.build("transfer", groups=groups, head_epochs=head_epochs)
    config = _budget(protocol, config_file, values)
    with _study(out, config, workers=workers, scheduler=scheduler, threads=threads, progress=progress) as study:
        result = measure.compute(study)
    typer.echo(f"groups (k = {len(result.groups)}): " + ", ".join("(" + ", ".join(g) + ")" for g in result.groups))
    _done("transfer coefficients", start, out / measure.folder)


# ---------------------------------------------------------------------- tag
def tag_cmd(
    out: Path = OutOption,
    groups: int = GroupsKOption,
    every: int = typer.Option(1, help="Measure the affinities every N training steps."),
    lookahead_lr: float = typer.Option(None, help="Learning rate of the SGD lookahead step (default: the run's current learning rate)."),
    protocol: str = ProtocolOption,
    config_file: Path = ConfigOption,
    threads: int = ThreadsOption,
    progress: bool = ProgressOption,
    **values,
) -> None:
    """TAG inter-task affinities (Fifty et al. 2021) and task-gradient cosines from one multi-task run."""
    start = time.perf_counter()
    measure = RELATEDNESS.build("tag", groups=groups, every=every, lookahead_lr=lookahead_lr)
    config = _budget(protocol, config_file, values)
    with _study(out, config, threads=threads, progress=progress) as study:
        result = measure.compute(study)
    typer.echo(f"TAG groups (k = {len(result.groups)}): " + ", ".join("(" + ", ".join(g) + ")" for g in result.groups))
    typer.echo("gradient-cosine groups: " + ", ".join("(" + ", ".join(g) + ")" for g in result.info["cosine_groups"]))
    _done("affinities", start, out / measure.folder)


# ---------------------------------------------------------------------- gains
def gains_cmd(
    out: Path = OutOption,
    seeds: int = typer.Option(3, help="Single-task seeds (the noise of one run; at least 2)."),
    groups: int = GroupsKOption,
    protocol: str = ProtocolOption,
    config_file: Path = ConfigOption,
    workers: int = WorkersOption,
    scheduler: str = SchedulerOption,
    threads: int = ThreadsOption,
    progress: bool = ProgressOption,
    **values,
) -> None:
    """Measured gains: every task pair as a two-task hard-sharing model vs each task alone (several seeds)."""
    from molmtl.relate.gains import (  # lazy: the training stack (Lightning)
        MIN_SEEDS,
        run_gains,
    )

    start = time.perf_counter()
    if seeds < MIN_SEEDS:
        raise InputError(f"--seeds must be >= {MIN_SEEDS}: the single-task noise needs it")
    config = _budget(protocol, config_file, values)
    with _study(out, config, workers=workers, scheduler=scheduler, threads=threads, progress=progress) as study:
        body = run_gains(study, seeds=seeds, groups=groups)
    typer.echo(f"{body['significant_gains']} of {body['directed_pairs']} gains exceed the seed noise; "
               f"{body['runs']} runs ({body['runs_kept']} kept), {body['wall_s']:.0f} s of training")
    _done("gains", start, out / "gains")


# ---------------------------------------------------------------------- evaluate
def evaluate_cmd(
    out: Path = OutOption,
    measures: str = typer.Option(None, help="Comma-separated measures (default: every one the study folder holds)."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples of the task pairs for the intervals."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
) -> None:
    """How well each cheap measure ranks the measured pair gains (Spearman rho, bootstrap interval) and its cost."""
    from molmtl.relate.evaluate import (
        run_evaluate,  # lazy: scipy and the measures' modules
    )

    start = time.perf_counter()
    names = None if measures is None else [m.strip() for m in measures.split(",") if m.strip()]
    rows = run_evaluate(out, names, bootstrap=bootstrap, seed=seed)
    for r in rows:
        typer.echo(f"  {r['measure']:>28}: rho {r['rho']:+.2f} [{r['rho_low']:+.2f}, {r['rho_high']:+.2f}] "
                   f"over {r['pairs']} pairs, {r['wall_s']:.0f} s")
    _done("evaluation", start, out / "evaluate")


# ---------------------------------------------------------------------- compare
def compare_cmd(
    files: list[Path] = typer.Argument(None, help="More grouping files (as --groups)."),
    out: Path = OutOption,
    groups: list[Path] = typer.Option(None, "--groups", help="A grouping file (JSON, YAML or text, the format of train --strategy clustered --groups); repeat it or list more files after it."),
    seeds: int = typer.Option(1, help="Seeds of every run (the table shows their mean)."),
    name: str = typer.Option(None, help="Name of this comparison (its subfolder of compare/; default: from the files and the budget)."),
    protocol: str = ProtocolOption,
    config_file: Path = ConfigOption,
    workers: int = WorkersOption,
    scheduler: str = SchedulerOption,
    threads: int = ThreadsOption,
    progress: bool = ProgressOption,
    **values,
) -> None:
    """Clustered (one run per grouping) vs all-task vs single-task on one budget: test MAE per property and Delta_m."""
    from molmtl.relate.compare import (
        run_compare,  # lazy: the training stack (Lightning)
    )

    start = time.perf_counter()
    paths = [*(groups or []), *(files or [])]
    if not paths:
        raise InputError("give at least one grouping file: --groups FILE [FILE...]")
    if seeds < 1:
        raise InputError(f"--seeds must be >= 1, got {seeds}")
    config = _budget(protocol, config_file, values)
    with _study(out, config, workers=workers, scheduler=scheduler, threads=threads, progress=progress) as study:
        body = run_compare(study, paths, seeds=seeds, name=name)
    for method, value in body["delta_m"].items():
        typer.echo(f"  Delta_m {method:>24}: {value:+.2f} %")
    _done("comparison", start, Path(body["folder"]))


relate_app.command("correlation", cls=RegistryHelp)(
    with_parameters(correlation_cmd, _params(tuple(f.name for f in fields(TrainConfig) if f.name not in DATA_FIELDS)
                                             + ("encoder_opt", "head_opt", "strategy_opt", "weighting_opt", "hidden",
                                                "layers", "cutoff", "message", "lam", "group_lasso", "groups"))))
relate_app.command("transfer", cls=RegistryHelp)(with_parameters(transfer_cmd, _params(STUDY_EXCLUDE)))
relate_app.command("tag", cls=RegistryHelp)(with_parameters(tag_cmd, _params(TAG_EXCLUDE)))
relate_app.command("gains", cls=RegistryHelp)(with_parameters(gains_cmd, _params(STUDY_EXCLUDE)))
relate_app.command("evaluate")(evaluate_cmd)
relate_app.command("compare", cls=RegistryHelp)(with_parameters(compare_cmd, _params(STUDY_EXCLUDE)))


__all__ = ["STUDY_EXCLUDE", "register", "relate_app"]
