"""``molmtl train`` and ``molmtl sweep-lambda``: options generated from TrainConfig (cli/options.py).

Options left unset keep the config file's value, else the protocol's (``--protocol standard`` by
default), so ``--protocol libmtl --epochs 5`` is the LibMTL set-up for five epochs.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from molmtl.cli.options import (
    ALIASES,
    PLUGIN_OPTIONS,
    RegistryHelp,
    build_config,
    config_parameters,
    split_values,
    with_parameters,
)
from molmtl.config import ARCHITECTURE, TrainConfig
from molmtl.errors import InputError

#: What ``--resume`` may change: the rest comes from the run folder's config.
RESUMABLE = ("epochs", "accelerator", "devices")
#: Command-line names that shape the model (refused with ``--init-from``, which keeps the model's).
_ARCHITECTURE_FLAGS = (*ARCHITECTURE, *ALIASES, "encoder_opt", "head_opt", "strategy_opt")


def _flag(name: str) -> str:
    return "--lambda" if name == "lam" else "--" + name.replace("_", "-")


def _quantity(value: float, unit: str) -> str:
    """``12.3 meV``; a user target without a unit is the number alone."""
    return f"{value:.4g} {unit}" if unit else f"{value:.4g}"


def fine_tuning(config: TrainConfig, init_from: Path, *, protocol: str, keep_split: bool, given: list[str]) -> TrainConfig:
    """``config`` started from the model file ``init_from``: that model's architecture (and split,
    unless ``keep_split``), refused if an architecture option was given too."""
    given = [n for n in given if n in _ARCHITECTURE_FLAGS]
    if protocol.strip().lower() != "standard":
        given.insert(0, "protocol")
    if given:
        raise InputError(f"--init-from takes the model's architecture from {init_from}; {_flag(given[0])} cannot change it")
    from molmtl.inference import (
        read_model_file,  # lazy: torch (a second to import) only for --init-from
    )

    body = read_model_file(init_from)
    if body.get("companions"):
        raise InputError(f"{init_from} blends in a companion model (molmtl blend): fine-tune the model it was made "
                         "from, then blend again")
    init = TrainConfig.from_dict(body["config"])
    if (init.data is None) != (config.data is None):
        kinds = ("QM9", "a CSV") if init.data is None else ("a CSV", "QM9")
        raise InputError(f"{init_from} was trained on {kinds[0]} and this run is on {kinds[1]}; fine-tuning keeps "
                         "the model's targets, so it needs data of the same kind")
    path = init_from / "model.pt" if init_from.is_dir() else init_from
    changes = dict(init.architecture(), init_from=str(path.resolve()))
    if not keep_split:
        changes.update(split=init.split, split_sizes=init.split_sizes)
    return config.replace(**changes)


def _resumed(out: Path, values: dict) -> TrainConfig:
    from molmtl.training.run import (
        read_run_config,  # lazy: Lightning takes seconds; only a run needs it
    )

    others = [k for k, v in values.items() if v not in (None, [], False) and k not in RESUMABLE]
    if others:
        raise InputError(f"--resume continues the run in {out} with its saved config; only --epochs, --accelerator, "
                         f"--devices, --time-limit and --progress may change (got {_flag(others[0])})")
    changes = {k: values[k] for k in RESUMABLE if values.get(k) is not None}
    config = read_run_config(out)
    return config.replace(**changes) if changes else config


def _configured(protocol: str, config_file: Path | None, values: dict) -> TrainConfig:
    """The run's config from the protocol, the config file and the given options."""
    fields_given, plugins, aliases = split_values(values)
    init_from = fields_given.pop("init_from", None)
    config = build_config(protocol, config_file=config_file, values=fields_given, plugin_pairs=plugins, aliases=aliases)
    if init_from is not None:
        given = [k for k, v in values.items() if v not in (None, [])]
        config = fine_tuning(config, Path(init_from), protocol=protocol, given=given,
                             keep_split="split" in fields_given or "split_sizes" in fields_given)
    if config.trim_to and "sort_window" not in fields_given:
        config = config.replace(sort_window=16 * config.batch_size)
    return config


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``sweep-lambda`` to ``app``."""

    def train_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Run folder (config, checkpoints, logs, model.pt)."),
        protocol: str = typer.Option("standard", help="Preset: standard (19 targets, PaiNN) or libmtl (11 targets, MPNN, Nash-MTL's set-up)."),
        config_file: Path = typer.Option(None, "--config", help="A TOML, YAML or JSON file of config fields (a run folder's config.json too); options given here override it."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint and config."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Train over an earlier run in --out: its model file and checkpoints go once the new run's data and model are built (without this, such a folder is refused)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar (else one log line per epoch)."),
        time_limit: float = typer.Option(None, help="Wall-clock budget in seconds for this invocation's training epochs: stop at the last epoch boundary inside it, write the model, continue later with --resume. Data loading and the final evaluation come on top."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config as JSON, check its plug-ins, and stop (no data read)."),
        **values,
    ) -> None:
        """Train a multi-task model on QM9 (or a CSV) and write OUT/model.pt."""
        from molmtl.training.run import (  # lazy: Lightning takes seconds to import
            check_plugins,
            train,
        )

        if time_limit is not None and not time_limit > 0:
            raise InputError(f"--time-limit must be a positive number of seconds, got {time_limit}")
        if resume and (config_file is not None or protocol != "standard"):
            raise InputError(f"--resume continues the run in {out} with its saved config; --config and --protocol cannot change it")
        config = _resumed(out, values) if resume else _configured(protocol, config_file, values)
        check_plugins(config)
        if dry_run:
            typer.echo(json.dumps(config.to_dict(), indent=2))
            return
        result = train(config, out, resume=resume, progress=progress, time_limit=time_limit, overwrite=overwrite)
        if not result.is_main:  # a DDP run's other processes: the main one reports
            return
        typer.echo(f"model written to {result.model_path}")
        for r in result.metrics.get("test", []):
            typer.echo(f"  test MAE {r['key']:>8}: {_quantity(r['mae'], r['unit'])}")
        from molmtl.uncertainty.calibrate import (
            calibrate_after_training,  # lazy: torch and the fitting code, after a run only
        )

        if calibrate_after_training(result.model_path) is not None:  # skipped, with a log line, without a validation part
            typer.echo(f"uncertainty calibration written to {result.model_path} (molmtl evaluate --uncertainty reports it)")

    app.command("train", cls=RegistryHelp)(with_parameters(train_cmd, config_parameters()))

    def sweep_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Sweep folder (one run per lambda + sweep.csv/md/png)."),
        lambdas: str = typer.Option("1e-3,1e-2,1e-1,1,10", help="Comma-separated lambdas."),
        protocol: str = typer.Option("standard", help="Preset: standard or libmtl."),
        config_file: Path = typer.Option(None, "--config", help="A TOML, YAML or JSON file of config fields; options given here override it."),
        progress: bool = typer.Option(False, "--progress/--no-progress", help="Show progress bars."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace earlier runs in the sweep folder."),
        **values,
    ) -> None:
        """Soft sharing over a range of lambdas: validation loss per lambda (table + plot)."""
        from molmtl.training.run import (
            check_plugins,  # lazy: Lightning takes seconds to import
        )
        from molmtl.training.sweep import sweep_lambda  # lazy: the same

        try:
            lams = [float(v) for v in lambdas.split(",") if v.strip()]
        except ValueError:
            raise InputError(f"--lambdas must be comma-separated numbers, got {lambdas!r}") from None
        config = _configured(protocol, config_file, {**values, "strategy": "soft"})
        check_plugins(config)
        rows = sweep_lambda(config, out, lams, progress=progress, overwrite=overwrite)
        if not rows:  # a DDP run's other processes: the main one reports
            return
        best = min(rows, key=lambda r: r["val_loss"])
        typer.echo(f"best lambda {best['lam']:g} (validation loss {best['val_loss']:.4g}); table in {out / 'sweep.md'}")

    sweep_params = config_parameters(exclude=("strategy", "init_from", "lam", "group_lasso", "groups"))
    app.command("sweep-lambda", cls=RegistryHelp)(with_parameters(sweep_cmd, sweep_params))


__all__ = ["register", "fine_tuning", "RESUMABLE", "PLUGIN_OPTIONS"]
