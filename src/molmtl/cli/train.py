"""``molmtl train`` / ``molmtl evaluate`` / ``molmtl sweep-lambda``: CLI strings -> TrainConfig.

Options left unset keep the protocol's value (``--protocol standard`` by default), so
``--protocol libmtl --epochs 5`` is the LibMTL set-up for five epochs.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import typer
import typer.core

from molmtl.errors import InputError


def _names() -> dict[str, str]:
    """Encoder, strategy and balancer names from the registries, for help texts."""
    from molmtl.models.registry import ENCODERS
    from molmtl.mtl.balancers import BALANCERS
    from molmtl.mtl.registry import STRATEGIES

    return {"{encoders}": ", ".join(ENCODERS), "{strategies}": ", ".join(STRATEGIES), "{balancers}": ", ".join(BALANCERS)}


class _RegistryHelp(typer.core.TyperCommand):
    """Fills the registries' names into option help texts when help is shown, not at start-up:
    the registries import torch, PyG and torchjd (seconds), which other commands need not pay."""

    def format_help(self, ctx, formatter):
        names = _names()
        for param in self.params:
            for key, value in names.items():
                if getattr(param, "help", None) and key in param.help:
                    param.help = param.help.replace(key, value)
        return super().format_help(ctx, formatter)


def _tasks_from_grouping(spec: str) -> str | None:
    """``--tasks FILE`` (every task of a grouping file, in its order) or ``FILE:N`` (its N-th group,
    from 1) as a comma-separated list; None when ``spec`` names no file."""
    from molmtl.mtl.clustered import load_grouping

    path, _, number = spec.strip().rpartition(":")
    if not (path and number.isdigit()):
        path, number = spec.strip(), ""
    if not (Path(path).is_file() or Path(path).suffix.lower() in (".json", ".yaml", ".yml", ".txt")):
        return None
    groups = load_grouping(path)
    if not number:
        return ",".join(k for g in groups for k in g)
    if not 1 <= int(number) <= len(groups):
        raise InputError(f"--tasks {spec}: {path} has {len(groups)} groups, numbered from 1")
    return ",".join(groups[int(number) - 1])


def _parse_tasks(spec: str | None, data: Path | str | None = None, smiles_column: str | None = None):
    """Target keys from ``--tasks``: QM9's keys, or with ``--data`` the CSV's own target columns;
    a grouping file gives its tasks (``FILE``) or one group's (``FILE:N``)."""
    from molmtl.targets import get_target, parse_targets

    if spec is None:
        return None
    spec = _tasks_from_grouping(spec) or spec
    if data is None or spec.strip().lower() == "libmtl":
        try:
            return parse_targets(spec)
        except (KeyError, ValueError) as exc:
            raise InputError(str(exc.args[0] if exc.args else exc)) from None
    columns = _csv_target_keys(data, smiles_column)
    if spec.strip().lower() == "all":
        return tuple(columns)
    keys = []
    for word in (w.strip() for w in spec.split(",")):
        if not word:
            continue
        key = word
        if key not in columns:  # a QM9 key in another spelling (HOMO, u0) names the column "homo", "U0"
            try:
                key = get_target(word).key
            except KeyError:
                pass
        if key not in columns:
            raise InputError(f"{data} has no target column {word!r}; its targets are {', '.join(columns)}")
        keys.append(key)
    if not keys:
        raise InputError("--tasks names no target")
    if len(set(keys)) != len(keys):
        raise InputError(f"--tasks repeats a target: {', '.join(keys)}")
    return tuple(keys)


def _csv_target_keys(data, smiles_column: str | None) -> list[str]:
    """The target keys of a CSV's label columns (its header only); InputError if it has none."""
    from molmtl.data.csv import read_csv

    keys = [t.key for t in read_csv(data, validate=False, labels=False, smiles_column=smiles_column).targets]
    if not keys:
        raise InputError(f"{data} has no target column besides its SMILES (and id/name) column; training needs one")
    return keys


def _parse_task_weights(spec: str | None) -> dict[str, float] | None:
    """``"U0=0.25,homo=2"`` -> ``{"U0": 0.25, "homo": 2.0}`` (QM9 keys in any spelling)."""
    from molmtl.targets import get_target

    if spec is None:
        return None
    weights = {}
    for item in (i.strip() for i in spec.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = None
        if not sep or not key.strip() or weight is None:
            raise InputError(f"--task-weights takes KEY=WEIGHT pairs separated by commas (e.g. U0=0.25,homo=2), got {item!r}")
        key = key.strip()
        try:
            key = get_target(key).key
        except KeyError:
            pass  # a CSV's own column
        weights[key] = weight
    return weights


def _parse_split_sizes(spec: str | None):
    """``"0.8,0.1"``, ``"0.8,0.1,0.1"`` (fractions; three must add up to 1) or ``"1000,100"``
    (counts; the test part is the rest) -> the (train, val) sizes of a TrainConfig."""
    if spec is None:
        return None
    items = [v.strip() for v in spec.split(",") if v.strip()]
    try:
        values = [int(v) if v.lstrip("+").isdigit() else float(v) for v in items]
    except ValueError:
        raise InputError(f"--split-sizes takes TRAIN,VAL[,TEST] numbers (e.g. 0.8,0.1,0.1 or 1000,100), got {spec!r}") from None
    if len(values) == 3 and any(isinstance(v, float) for v in values):
        if abs(sum(values) - 1.0) > 1e-6:
            raise InputError(f"--split-sizes fractions must add up to 1, got {spec!r}")
        values = values[:2]
    elif len(values) == 3:
        raise InputError("--split-sizes with counts takes TRAIN,VAL (the test part is the rest), "
                         f"or fractions TRAIN,VAL,TEST; got {spec!r}")
    if len(values) != 2:
        raise InputError(f"--split-sizes takes TRAIN,VAL[,TEST] numbers (e.g. 0.8,0.1,0.1 or 1000,100), got {spec!r}")
    return tuple(float(v) for v in values) if any(isinstance(v, float) for v in values) else tuple(values)


def _default_eval_dir(model: Path, what: str) -> Path:
    """``eval-WHAT`` beside a run's model; in the working directory for a model shipped inside
    the installed package (whose folder may be read-only, and is no place for results)."""
    import molmtl

    folder = model if model.is_dir() else model.parent
    if folder.resolve().is_relative_to(Path(molmtl.__file__).resolve().parent):
        return Path.cwd() / f"eval-{model.stem}-{what}"
    return folder / f"eval-{what}"


def _quantity(value: float, unit: str) -> str:
    """``12.3 meV``; a user target without a unit is the number alone."""
    return f"{value:.4g} {unit}" if unit else f"{value:.4g}"


def _encoder_hp(encoder: str, hidden: int | None, layers: int | None, cutoff: float | None,
                message: str | None = None) -> dict:
    from molmtl.models.registry import ENCODERS

    key = encoder.strip().lower()
    if key not in ENCODERS:
        raise InputError(f"unknown encoder {encoder!r}; choose one of: {', '.join(ENCODERS)}")
    accepted = inspect.signature(ENCODERS[key].__init__).parameters
    hp = {}
    if hidden is not None:
        if hidden < 1:
            raise InputError(f"--hidden must be a positive feature width, got {hidden}")
        hp["hidden"] = hidden
    if layers is not None:
        if layers < 0:
            raise InputError(f"--layers must be >= 0, got {layers}")
        hp["num_layers" if "num_layers" in accepted else "steps"] = layers
    if cutoff is not None:
        if "cutoff" not in accepted:
            raise InputError(f"encoder {key} has no cutoff (only 3D encoders do)")
        if not cutoff > 0:
            raise InputError(f"--cutoff must be a positive distance in Angstrom, got {cutoff}")
        hp["cutoff"] = cutoff
    if message is not None:
        if "message" not in accepted:
            raise InputError(f"encoder {key} has no --message choice (only painn does)")
        from molmtl.models.painn import MESSAGES

        if message.strip().lower() not in MESSAGES:
            raise InputError(f"unknown --message {message!r}; use one of {', '.join(MESSAGES)}")
        hp["message"] = message.strip().lower()
    return hp


def build_config(*, protocol: str, encoder, strategy, tasks, weighting, epochs, data, split, max_molecules,
                 groups, lam, group_lasso, hidden, layers, cutoff, batch_size, lr, weight_decay, schedule, loss,
                 seed, accelerator, devices, precision, compile, early_stopping, message=None, smiles_column=None,
                 task_weights=None, ema=None, split_sizes=None, plateau_factor=None, plateau_patience=None,
                 geometry=None, warmup_epochs=None):
    """TrainConfig from CLI values (None = the protocol's value)."""
    from molmtl.training.protocols import PROTOCOLS, protocol_config

    base = PROTOCOLS.get(protocol.strip().lower())
    if base is None:
        raise InputError(f"unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    if data is not None and not Path(data).is_file():
        raise InputError(f"CSV file not found: {data}")
    if smiles_column is not None and data is None:
        raise InputError("--smiles-column names a column of a --data CSV; QM9 runs have none")
    over: dict = {}
    encoder = encoder.strip().lower() if encoder is not None else None  # "MPNN" is the protocol's "mpnn"
    enc = encoder or base.get("encoder", "painn")
    if encoder is not None or any(v is not None for v in (hidden, layers, cutoff, message)):
        over["encoder"] = enc
        hp = {} if encoder is not None and encoder != base.get("encoder") else dict(base.get("encoder_hp", {}))
        over["encoder_hp"] = {**hp, **_encoder_hp(enc, hidden, layers, cutoff, message)}
    if encoder is not None and encoder != base.get("encoder"):
        over["head_hp"] = {}  # the protocol's heads belong to its encoder
    strategy_hp = {}
    if lam is not None:
        strategy_hp["lam"] = lam
    if group_lasso is not None:
        strategy_hp["group_lasso"] = group_lasso
    if groups is not None:
        from molmtl.mtl.clustered import load_grouping

        if not Path(groups).is_file():
            raise InputError(f"groups file not found: {groups}")
        strategy_hp["groups"] = load_grouping(groups)  # stored in the model file, not the path
    if strategy_hp:
        over["strategy_hp"] = strategy_hp
    task_keys = _parse_tasks(tasks, data, smiles_column)
    if task_keys is None and groups is not None:
        task_keys = tuple(k for g in strategy_hp["groups"] for k in g)
    if task_keys is None and data is not None and tasks is None:
        task_keys = tuple(_csv_target_keys(data, smiles_column))
    if split is not None and split.endswith(".json") and not Path(split).is_file():
        raise InputError(f"split file not found: {split}")
    values = dict(tasks=task_keys, strategy=strategy, weighting=weighting, epochs=epochs, data=data, split=split,
                  max_molecules=max_molecules, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                  schedule=schedule, loss=loss, seed=seed, accelerator=accelerator, devices=devices,
                  precision=precision, compile=compile or None, early_stopping=early_stopping,
                  smiles_column=smiles_column, task_weights=_parse_task_weights(task_weights), ema=ema,
                  plateau_factor=plateau_factor, plateau_patience=plateau_patience, warmup_epochs=warmup_epochs,
                  geometry=geometry.strip().lower() if geometry is not None else None)
    over.update({k: v for k, v in values.items() if v is not None})
    if "devices" in over and str(over["devices"]).isdigit():
        over["devices"] = int(over["devices"])
    if over.get("early_stopping") == 0:
        over["early_stopping"] = None
    if split_sizes is not None:
        over["split_sizes"] = _parse_split_sizes(split_sizes)
    elif "split" in over and "split_sizes" in base and base["split_sizes"] is not None:
        over.setdefault("split_sizes", base["split_sizes"] if over["split"].startswith("random") else None)
    return protocol_config(protocol, **over)


def _fine_tuning(config, init_from: Path, *, protocol: str, keep_split: bool, **architecture):
    """``config`` started from the model file ``init_from``: that model's architecture (and split,
    unless ``keep_split``), refused if an architecture option was given too."""
    from molmtl.training.config import TrainConfig
    from molmtl.training.modelfile import read_model_file

    given = [n for n, v in architecture.items() if v is not None]
    if protocol.strip().lower() != "standard":
        given.insert(0, "protocol")
    if given:
        raise InputError(f"--init-from takes the model's architecture from {init_from}; --{given[0].replace('_', '-')} "
                         "cannot change it")
    body = read_model_file(init_from)
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


def _check_names(config) -> None:
    """Unknown encoder, strategy or weighting -> InputError before any data are read."""
    from molmtl.training.config import build_balancer, build_strategy

    build_strategy(config)
    build_balancer(config)


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate`` and ``sweep-lambda`` to ``app``."""
    enc_help = "Encoder: {encoders} (protocol default: painn; libmtl: mpnn)."
    strat_help = "Task-sharing strategy: {strategies} (default: hard)."
    weight_help = "Loss weighting / gradient aggregation: {balancers} (default: equal)."


    @app.command("train", cls=_RegistryHelp)
    def train_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Run folder (checkpoints, logs, model.pt)."),
        protocol: str = typer.Option("standard", help="Preset: standard (19 targets, PaiNN) or libmtl (11 targets, MPNN, Nash-MTL's set-up)."),
        encoder: str = typer.Option(None, help=enc_help),
        strategy: str = typer.Option(None, help=strat_help),
        weighting: str = typer.Option(None, help=weight_help),
        task_weights: str = typer.Option(None, help="Static loss weight per task, KEY=WEIGHT pairs (e.g. U0=0.25,homo=2; others 1), applied before the weighting/aggregation."),
        tasks: str = typer.Option(None, help="all, libmtl, keys such as U0,homo,gap, or a grouping file (FILE: all its tasks; FILE:N: its N-th group) (default: protocol's; a CSV's columns)."),
        epochs: int = typer.Option(None, help="Training epochs (default: 100; libmtl 300)."),
        data: Path = typer.Option(None, help="A CSV of SMILES + target columns instead of QM9 (NaN = missing)."),
        smiles_column: str = typer.Option(None, help="The CSV's SMILES column (default: smiles, SMILES, Smiles, canonical_smiles or mol, whichever is there)."),
        geometry: str = typer.Option(None, help="QM9 runs: qm9 (its B3LYP geometries, the default) or rdkit (ETKDG + MMFF geometries from each molecule's SMILES, as predict gives SMILES; made once, 'molmtl data prepare --rdkit-geometries')."),
        split: str = typer.Option(None, help="random, random:SEED, scaffold, or a split .json (default: random)."),
        split_sizes: str = typer.Option(None, help="Random or scaffold split sizes: fractions TRAIN,VAL[,TEST] (e.g. 0.8,0.1,0.1) or counts TRAIN,VAL (the test part is the rest); default: QM9's 110,000/10,000 (80/10/10 for smaller sets)."),
        max_molecules: int = typer.Option(None, help="Quick runs: first N training molecules (and N/5, at least 16, of validation and test)."),
        groups: Path = typer.Option(None, help="Task grouping file for --strategy clustered."),
        lam: float = typer.Option(None, "--lambda", help="Soft-sharing (and MRN) penalty strength."),
        group_lasso: float = typer.Option(None, help="Group-lasso weight on the heads' first layer (hard, clustered)."),
        hidden: int = typer.Option(None, help="Encoder feature width."),
        layers: int = typer.Option(None, help="Encoder layers (message-passing steps for mpnn)."),
        cutoff: float = typer.Option(None, help="Neighbour cutoff in Angstrom (3D encoders)."),
        message: str = typer.Option(None, help="PaiNN's message blocks: bmm (per-feature filters times neighbour blocks, default), elementwise (dense pair tensors) or basis (neighbour sums against the radial basis first); the same parameters and numbers, different speed."),
        batch_size: int = typer.Option(None, help="Molecules per batch (default: 64)."),
        lr: float = typer.Option(None, help="Peak learning rate (default: 5e-4)."),
        weight_decay: float = typer.Option(None, help="AdamW weight decay (default: 0)."),
        schedule: str = typer.Option(None, help="LR schedule: cosine (warm-up + cosine) or plateau (constant, cut on validation stalls)."),
        warmup_epochs: float = typer.Option(None, help="Cosine schedule: linear warm-up from 0 to --lr over this many epochs (default: 1; fractions allowed, e.g. 0.1 for fine-tuning)."),
        plateau_factor: float = typer.Option(None, help="Plateau schedule: LR multiplier on a stall (default: 0.7)."),
        plateau_patience: int = typer.Option(None, help="Plateau schedule: epochs without improvement before a cut (default: 5)."),
        loss: str = typer.Option(None, help="Per-task loss on normalized targets: mse or l1 (default: l1; libmtl: mse)."),
        early_stopping: int = typer.Option(None, help="Patience in epochs (0: off; default: 30)."),
        ema: float = typer.Option(None, help="Decay of an exponential moving average of the weights (e.g. 0.999; 0: off, the default): validation, checkpoints and the model file use the average."),
        seed: int = typer.Option(None, help="Random seed (default: 0)."),
        accelerator: str = typer.Option(None, help="cpu, gpu or auto (default: auto)."),
        devices: str = typer.Option(None, help="Devices per node: a number or auto."),
        precision: str = typer.Option(None, help="32-true or bf16-mixed."),
        compile: bool = typer.Option(False, "--compile", help="torch.compile the model (GPU)."),
        device_data: bool = typer.Option(False, "--device-data", help="QM9 + 3D encoder: keep the padded training set on the GPU (no DataLoader)."),
        trim_to: int = typer.Option(None, help="With --device-data: cut each batch's atom axis to its largest molecule rounded up to a multiple of N (8: at most 4 shapes for torch.compile; default: off)."),
        sort_window: int = typer.Option(None, help="With --trim-to: sort windows of this many shuffled training molecules by size, so batches hold similar sizes (default: 16 batches; 0: no sorting, which leaves batches of hundreds of molecules at 29 atoms)."),
        init_from: Path = typer.Option(None, "--init-from", help="Fine-tune: start from this model file's weights and target normalization (its architecture and, unless --split/--split-sizes are given, its split; the other options are this run's)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint and config."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Train over an earlier run in --out: its model file and checkpoints go once the new run's data and model are built (without this, such a folder is refused)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar (else one log line per epoch)."),
        time_limit: float = typer.Option(None, help="Wall-clock budget in seconds for this invocation's training epochs: stop at the last epoch boundary inside it, write the model, continue later with --resume. Data loading and the final evaluation come on top (about a minute for QM9 on a GPU)."),
    ) -> None:
        """Train a multi-task model on QM9 (or a CSV) and write OUT/model.pt."""
        from molmtl.training.run import read_run_config, train

        if epochs is not None and epochs <= 0:
            raise InputError(f"epochs must be a positive integer, got {epochs}")
        if resume:
            given = [n for n, v in dict(encoder=encoder, strategy=strategy, weighting=weighting, tasks=tasks, data=data,
                                        smiles_column=smiles_column, task_weights=task_weights, geometry=geometry,
                                        split=split, split_sizes=split_sizes, max_molecules=max_molecules, groups=groups, lam=lam,
                                        group_lasso=group_lasso, hidden=hidden, layers=layers, cutoff=cutoff,
                                        message=message, batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule=schedule,
                                        plateau_factor=plateau_factor, plateau_patience=plateau_patience,
                                        warmup_epochs=warmup_epochs, loss=loss, ema=ema, seed=seed, precision=precision, early_stopping=early_stopping,
                                        protocol=None if protocol == "standard" else protocol,
                                        compile=compile or None, device_data=device_data or None, trim_to=trim_to,
                                        sort_window=sort_window, init_from=init_from).items() if v is not None]
            if given:
                raise InputError(f"--resume continues the run in {out} with its saved config; only --epochs, "
                                 f"--accelerator, --devices, --time-limit and --progress may change (got --{given[0].replace('_', '-')})")
            config = read_run_config(out)
            if devices is not None:
                config = config.replace(devices=int(devices) if devices.isdigit() else devices)
            if accelerator is not None:
                config = config.replace(accelerator=accelerator)
            if epochs is not None:
                config = config.replace(epochs=epochs)
        else:
            config = build_config(protocol=protocol, encoder=encoder, strategy=strategy, tasks=tasks,
                                  weighting=weighting, epochs=epochs, data=str(data.resolve()) if data else None, split=split,
                                  max_molecules=max_molecules, groups=groups, lam=lam, group_lasso=group_lasso,
                                  hidden=hidden, layers=layers, cutoff=cutoff, batch_size=batch_size, lr=lr,
                                  weight_decay=weight_decay, schedule=schedule, loss=loss, seed=seed,
                                  accelerator=accelerator, devices=devices, precision=precision, compile=compile,
                                  early_stopping=early_stopping, message=message, smiles_column=smiles_column,
                                  task_weights=task_weights, ema=ema, split_sizes=split_sizes,
                                  plateau_factor=plateau_factor, plateau_patience=plateau_patience,
                                  geometry=geometry, warmup_epochs=warmup_epochs)
            if init_from is not None:
                config = _fine_tuning(config, init_from, protocol=protocol, encoder=encoder, strategy=strategy,
                                      tasks=tasks, groups=groups, lam=lam, group_lasso=group_lasso, hidden=hidden,
                                      layers=layers, cutoff=cutoff, message=message,
                                      keep_split=split is not None or split_sizes is not None)
            if device_data or trim_to is not None or sort_window is not None:
                if sort_window is None and trim_to:
                    sort_window = 16 * config.batch_size
                config = config.replace(device_data=device_data, trim_to=trim_to or 0, sort_window=sort_window or 0)
            _check_names(config)
        if time_limit is not None and not time_limit > 0:
            raise InputError(f"--time-limit must be a positive number of seconds, got {time_limit}")
        result = train(config, out, resume=resume, progress=progress, time_limit=time_limit, overwrite=overwrite)
        if not result.is_main:  # a DDP run's other processes: the main one reports
            return
        typer.echo(f"model written to {result.model_path}")
        for r in result.metrics.get("test", []):
            typer.echo(f"  test MAE {r['key']:>8}: {_quantity(r['mae'], r['unit'])}")

    @app.command("evaluate")
    def evaluate_cmd(
        model: Path = typer.Argument(..., help="A model.pt (or a run folder holding one)."),
        split_part: str = typer.Option(None, help="Which part of the model's split: train, val or test (default: test)."),
        data: Path = typer.Option(None, help="Evaluate on a labelled CSV instead (an external test set): SMILES + columns named as the model's targets (QM9 keys may carry a unit, e.g. 'gap [eV]')."),
        smiles_column: str = typer.Option(None, help="With --data: the CSV's SMILES column (default: smiles, SMILES, ...)."),
        geometry: str = typer.Option(None, help="QM9 models: give the split's molecules with qm9 (B3LYP) or rdkit (ETKDG + MMFF from SMILES) geometries (default: those the model was trained on)."),
        out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: MODEL's folder/eval-PART, or eval-CSVNAME; for a model shipped inside the package, ./eval-MODELNAME-PART)."),
        stl_dir: Path = typer.Option(None, help="An STL run (folder with model.pt or metrics.json) for Delta_m; with --data its model is evaluated on the same CSV."),
        stl_json: str = typer.Option(None, help="JSON of STL MAEs {key: MAE in display units}, or 'libmtl' for Nash-MTL's."),
    ) -> None:
        """Per-target MAE (display units), chemical-accuracy ratio, Delta_m vs STL, parity plots."""
        from molmtl.training.evaluate import csv_part, evaluate_csv, evaluate_model, read_stl_maes
        from molmtl.training.modelfile import load_model
        from molmtl.training.protocols import LIBMTL_STL_MAE

        if stl_dir is not None and stl_json is not None:
            raise InputError("give --stl-dir or --stl-json, not both")
        if data is not None and split_part is not None:
            raise InputError("--data evaluates a CSV and --split-part a part of the model's own split; choose one")
        if smiles_column is not None and data is None:
            raise InputError("--smiles-column names a column of a --data CSV")
        if data is not None and not data.is_file():
            raise InputError(f"CSV file not found: {data}")
        if geometry is not None:
            geometry = geometry.strip().lower()
            if geometry not in ("qm9", "rdkit"):
                raise InputError(f"--geometry must be qm9 or rdkit, got {geometry!r}")
            if data is not None:
                raise InputError("--geometry picks the geometries of the model's own QM9 split; a --data CSV is always embedded with RDKit")
        split_part = split_part or "test"
        part = csv_part(data) if data is not None else split_part
        stl = None
        if stl_json is not None and stl_json.strip().lower() == "libmtl":
            if part != "test":
                raise InputError(f"Nash-MTL's STL numbers are test MAEs of QM9's split; evaluate the test part, not {part}")
            stl = dict(LIBMTL_STL_MAE)
        elif stl_json is not None:
            stl = read_stl_maes(stl_json, part)
        elif stl_dir is not None and data is not None and not (stl_dir / "metrics.json").is_file() and stl_dir.suffix != ".json":
            # an STL model: evaluated on the same molecules as the model
            stl_result = evaluate_csv(load_model(stl_dir), data, smiles_column=smiles_column)
            stl = {r["key"]: r["mae"] for r in stl_result["targets"]}
        elif stl_dir is not None:
            stl = read_stl_maes(stl_dir, part)
        trained = load_model(model)
        if geometry is not None and trained.config.data is not None:
            raise InputError("--geometry is for models trained on QM9; this one was trained on a CSV")
        suffix = f"-{geometry}" if geometry is not None and geometry != trained.config.geometry else ""
        out = out or _default_eval_dir(model, (data.stem if data is not None else split_part) + suffix)
        if data is not None:
            result = evaluate_csv(trained, data, out, smiles_column=smiles_column, stl=stl)
        else:
            result = evaluate_model(trained, split_part, out, stl=stl, geometry=geometry)
        for r in result["targets"]:
            r2 = f", R² {r['r2']:.4f}" if r.get("r2") is not None else ""
            typer.echo(f"{r['key']:>8}: MAE {_quantity(r['mae'], r['unit'])}, RMSE {_quantity(r['rmse'], r['unit'])}{r2}"
                       + (f"  ({r['ratio']:.2f} x chem. acc.)" if r["ratio"] is not None else ""))
        if "delta_m_percent" in result:
            typer.echo(f"Delta_m vs STL: {result['delta_m_percent']:+.2f} %")
        if result.get("geometry"):
            typer.echo(f"geometries: {result['geometry']}, not the labels' own method's: their difference is in these errors")
        skipped = f" ({result['n_skipped']} molecules skipped: see predictions.csv)" if result.get("n_skipped") else ""
        typer.echo(f"written to {out}{skipped}")

    @app.command("sweep-lambda", cls=_RegistryHelp)
    def sweep_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Sweep folder (one run per lambda + sweep.csv/md/png)."),
        lambdas: str = typer.Option("1e-3,1e-2,1e-1,1,10", help="Comma-separated lambdas."),
        protocol: str = typer.Option("standard", help="Preset: standard or libmtl."),
        encoder: str = typer.Option(None, help=enc_help),
        weighting: str = typer.Option(None, help=weight_help),
        tasks: str = typer.Option(None, help="all, libmtl, or keys such as U0,homo."),
        epochs: int = typer.Option(None, help="Epochs per run."),
        data: Path = typer.Option(None, help="A CSV instead of QM9."),
        smiles_column: str = typer.Option(None, help="The CSV's SMILES column (default: smiles, SMILES, ...)."),
        split: str = typer.Option(None, help="random, random:SEED, scaffold or a split .json."),
        max_molecules: int = typer.Option(None, help="First N training molecules."),
        hidden: int = typer.Option(None, help="Encoder feature width."),
        layers: int = typer.Option(None, help="Encoder layers."),
        batch_size: int = typer.Option(None, help="Molecules per batch."),
        lr: float = typer.Option(None, help="Peak learning rate."),
        seed: int = typer.Option(None, help="Random seed."),
        accelerator: str = typer.Option(None, help="cpu, gpu or auto."),
        progress: bool = typer.Option(False, "--progress/--no-progress", help="Show progress bars."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace earlier runs in the sweep folder."),
    ) -> None:
        """Soft sharing over a range of lambdas: validation loss per lambda (table + plot)."""
        from molmtl.training.sweep import sweep_lambda

        if epochs is not None and epochs <= 0:
            raise InputError(f"epochs must be a positive integer, got {epochs}")
        try:
            values = [float(v) for v in lambdas.split(",") if v.strip()]
        except ValueError:
            raise InputError(f"--lambdas must be comma-separated numbers, got {lambdas!r}") from None
        config = build_config(protocol=protocol, encoder=encoder, strategy="soft", tasks=tasks, weighting=weighting,
                              epochs=epochs, data=str(data.resolve()) if data else None, split=split,
                              max_molecules=max_molecules, groups=None, lam=None, group_lasso=None, hidden=hidden,
                              layers=layers, cutoff=None, batch_size=batch_size, lr=lr, weight_decay=None,
                              schedule=None, loss=None, seed=seed, accelerator=accelerator, devices=None,
                              precision=None, compile=False, early_stopping=None, smiles_column=smiles_column)
        _check_names(config)
        rows = sweep_lambda(config, out, values, progress=progress, overwrite=overwrite)
        if not rows:  # a DDP run's other processes: the main one reports
            return
        best = min(rows, key=lambda r: r["val_loss"])
        typer.echo(f"best lambda {best['lam']:g} (validation loss {best['val_loss']:.4g}); table in {out / 'sweep.md'}")
