"""``train``'s options, generated from :class:`~molmtl.config.TrainConfig`'s fields, and their
values turned into a config.

Every config field with ``cli=True`` in its metadata becomes ``--field-name`` with the field's
help text, unit and choices; plug-in options come as repeatable ``--encoder-opt K=V``,
``--head-opt``, ``--strategy-opt`` and ``--weighting-opt``, checked by the plug-in's registry;
``--config FILE`` (TOML, YAML or JSON, a run folder's ``config.json`` too) sits between the
protocol's values and the command line's. A few short forms stay for common plug-in options:
``--hidden``, ``--layers``, ``--cutoff``, ``--message`` (the encoder's) and ``--lambda``,
``--group-lasso``, ``--groups`` (the strategy's).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import typer
import typer.core

from molmtl.config import TrainConfig, field_types, read_config_file
from molmtl.data.csv import read_csv
from molmtl.errors import InputError
from molmtl.models.registry import ENCODERS
from molmtl.mtl.grouping import load_grouping
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS
from molmtl.registry import parse_pairs
from molmtl.targets import get_target, parse_targets
from molmtl.training.protocols import PROTOCOLS

#: Plug-in option flags: flag -> (config field holding the options, registry or None for the heads).
PLUGIN_OPTIONS = {"encoder_opt": ("encoder_hp", "encoder"), "head_opt": ("head_hp", None),
                  "strategy_opt": ("strategy_hp", "strategy"), "weighting_opt": ("weighting_hp", "weighting")}
#: Short forms of plug-in options: flag -> (config field, option name(s): the first the plug-in takes).
ALIASES: dict[str, tuple[str, tuple[str, ...], type, str]] = {
    "hidden": ("encoder_hp", ("hidden",), int, "Encoder feature width (= --encoder-opt hidden=N)."),
    "layers": ("encoder_hp", ("num_layers", "steps"), int, "Encoder layers (message-passing steps for mpnn)."),
    "cutoff": ("encoder_hp", ("cutoff",), float, "Neighbour cutoff in Angstrom (3D encoders)."),
    "message": ("encoder_hp", ("message",), str, "PaiNN's message blocks: bmm (default), elementwise or basis; the "
                                                  "same parameters and numbers, different speed."),
    "lam": ("strategy_hp", ("lam",), float, "Soft-sharing (and MRN) penalty strength lambda."),
    "group_lasso": ("strategy_hp", ("group_lasso",), float, "Group-lasso weight on the heads' first layer (hard, clustered)."),
    "groups": ("strategy_hp", ("groups",), Path, "Task grouping file for --strategy clustered (JSON, YAML or text)."),
}
#: Fields whose command-line text is parsed here (the others are typed by Typer).
_TEXT_FIELDS = ("tasks", "task_weights", "split_sizes", "devices")
_REGISTRIES = {"encoder": ENCODERS, "strategy": STRATEGIES, "weighting": WEIGHTINGS}


class RegistryHelp(typer.core.TyperCommand):
    """Fills the registries' names into help texts (``{encoders}``...) when help is shown, not at
    start-up: listing them imports every plug-in module (PyTorch Geometric, torchjd: seconds)."""

    def format_help(self, ctx, formatter):
        names = {"{encoders}": ENCODERS, "{strategies}": STRATEGIES, "{weightings}": WEIGHTINGS}
        for param in self.params:
            for key, registry in names.items():
                if getattr(param, "help", None) and key in param.help:
                    param.help = param.help.replace(key, ", ".join(registry.names()))
        return super().format_help(ctx, formatter)


# ---------------------------------------------------------------------- parameters
def _cli_type(name: str, annotation) -> type:
    if name in _TEXT_FIELDS:
        return str
    if name in ("data", "init_from"):
        return Path
    kinds = [k for k in typing.get_args(annotation) or (annotation,) if k is not type(None)]
    return kinds[0] if kinds and kinds[0] in (int, float, bool, str) else str


def _default_text(name: str) -> str:
    values = {p: {**_field_defaults(), **spec}.get(name) for p, spec in PROTOCOLS.items()}
    shown = {p: ("off" if v in (None, 0) and name in ("early_stopping", "grad_clip") else v) for p, v in values.items()}
    if all(v in (None, {}, (), "") for v in values.values()) or (isinstance(shown["standard"], tuple) and len(shown["standard"]) > 4):
        return ""
    if len(set(map(repr, shown.values()))) == 1:
        return f" (default: {shown['standard']})"
    return " (default: " + "; ".join(f"{p} {v}" for p, v in shown.items()) + ")"


def _field_defaults() -> dict[str, Any]:
    return {f.name: (f.default if f.default is not MISSING else f.default_factory()) for f in fields(TrainConfig)}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def config_parameters(*, exclude: tuple[str, ...] = ()) -> list[inspect.Parameter]:
    """One keyword parameter (a Typer option, default None = not given) per config field, then the
    plug-in option flags and the short forms; ``exclude`` names parameters to leave out."""
    params = []
    types = field_types()
    for f in fields(TrainConfig):
        if not f.metadata.get("cli", True) or f.name in exclude:
            continue
        kind = _cli_type(f.name, types[f.name])
        text = f.metadata["help"]
        if f.metadata.get("unit"):
            text += f" [{f.metadata['unit']}]"
        if f.metadata.get("choices"):
            text += f" One of: {', '.join(f.metadata['choices'])}."
        text += _default_text(f.name)
        decls = [f"{_flag(f.name)}/--no-{f.name.replace('_', '-')}"] if kind is bool else [_flag(f.name)]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=kind | None,
                                        default=typer.Option(None, *decls, help=text, show_default=False)))
    for flag, (fld, registry) in PLUGIN_OPTIONS.items():
        if flag in exclude:
            continue
        what = f"the {registry}'s" if registry else "the task heads'"
        params.append(inspect.Parameter(flag, inspect.Parameter.KEYWORD_ONLY, annotation=list[str] | None,
                                        default=typer.Option(None, _flag(flag), metavar="K=V", show_default=False,
                                                             help=f"One of {what} options, KEY=VALUE; repeat for more "
                                                                  "(molmtl plugins lists them).")))
    for name, (fld, _, kind, text) in ALIASES.items():
        if name in exclude:
            continue
        decls = ["--lambda"] if name == "lam" else [_flag(name)]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind | None,
                                        default=typer.Option(None, *decls, help=text, show_default=False)))
    return params


def with_parameters(func: Callable, params: list[inspect.Parameter]) -> Callable:
    """``func`` (taking ``**kwargs``) with ``params`` added to its signature, as Typer reads it."""
    sig = inspect.signature(func)
    own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    func.__signature__ = sig.replace(parameters=own + params)
    func.__annotations__ = {**{p.name: p.annotation for p in own + params}, "return": None}
    return func


def split_values(values: Mapping[str, Any]) -> tuple[dict, dict, dict]:
    """The command's keyword values -> (config fields, plug-in option pairs, short forms), given ones only."""
    names = {f.name for f in fields(TrainConfig)}
    fields_given = {k: v for k, v in values.items() if k in names and v is not None}
    plugins = {k: list(v) for k, v in values.items() if k in PLUGIN_OPTIONS and v}
    aliases = {k: v for k, v in values.items() if k in ALIASES and v is not None}
    return fields_given, plugins, aliases


# ---------------------------------------------------------------------- values -> config
def build_config(protocol: str = "standard", *, config_file: Path | None = None, values: Mapping[str, Any] | None = None,
                 plugin_pairs: Mapping[str, list[str]] | None = None, aliases: Mapping[str, Any] | None = None) -> TrainConfig:
    """A :class:`TrainConfig`: the protocol's values, then the config file's, then the command line's.

    Choosing another encoder than the protocol's drops the protocol's encoder and head options
    (they belong to its encoder). Plug-in options are checked by their registries (one sentence
    for a wrong name, option or type).
    """
    key = protocol.strip().lower()
    if key not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    given = dict(read_config_file(config_file)) if config_file is not None else {}
    if "protocol" in given:
        key = str(given.pop("protocol")).strip().lower()
        if key not in PROTOCOLS:
            raise InputError(f"{config_file}: unknown protocol {key!r}; choose one of: {', '.join(PROTOCOLS)}")
    given.update(_from_text(dict(values or {})))
    base = PROTOCOLS[key]
    merged = {**base, **given}
    if "encoder" in given:
        merged["encoder"] = ENCODERS.canonical(str(given["encoder"]))
        if merged["encoder"] != base.get("encoder", "painn"):
            for hp in ("encoder_hp", "head_hp"):
                merged[hp] = dict(given.get(hp, {}))
    for fld in ("encoder_hp", "head_hp", "strategy_hp", "weighting_hp"):
        merged[fld] = dict(merged.get(fld) or {})
    _apply_aliases(merged, aliases or {})
    for flag, pairs in (plugin_pairs or {}).items():
        fld, kind = PLUGIN_OPTIONS[flag]
        merged[fld].update(parse_pairs(pairs, f"--{flag.replace('_', '-')} value"))
    _check_plugin_options(merged)
    if isinstance(merged.get("strategy_hp", {}).get("groups"), (str, Path)):  # a file: the model keeps its groups
        merged["strategy_hp"]["groups"] = load_grouping(merged["strategy_hp"]["groups"])
    _resolve_tasks(merged, given)
    if "split" in given and "split_sizes" not in given and base.get("split_sizes") is not None:
        merged["split_sizes"] = base["split_sizes"] if str(merged["split"]).startswith("random") else None
    return TrainConfig(**merged)


def _from_text(values: dict) -> dict:
    """Command-line text of special fields -> config values (paths resolved, 0 meaning off)."""
    out = dict(values)
    if out.get("data") is not None:
        data = Path(out["data"])
        if not data.is_file():
            raise InputError(f"CSV file not found: {data}")
        out["data"] = str(data.resolve())
    if out.get("init_from") is not None:
        out["init_from"] = str(out["init_from"])
    if isinstance(out.get("task_weights"), str):
        out["task_weights"] = parse_task_weights(out["task_weights"])
    if isinstance(out.get("split_sizes"), str):
        out["split_sizes"] = parse_split_sizes(out["split_sizes"])
    if out.get("split") is not None and str(out["split"]).endswith(".json") and not Path(out["split"]).is_file():
        raise InputError(f"split file not found: {out['split']}")
    for name in ("early_stopping", "grad_clip"):
        if out.get(name) == 0:
            out[name] = None
    return out


def _apply_aliases(merged: dict, aliases: Mapping[str, Any]) -> None:
    for name, value in aliases.items():
        fld, candidates, _, _ = ALIASES[name]
        registry_kind = "encoder" if fld == "encoder_hp" else "strategy"
        options = _REGISTRIES[registry_kind].options(merged[registry_kind])
        option_name = next((c for c in candidates if c in options), None)
        if option_name is None:
            flag = "--lambda" if name == "lam" else "--" + name.replace("_", "-")
            raise InputError(f"{registry_kind} {merged[registry_kind]!r} has no option {candidates[0]!r} ({flag} does "
                             f"not apply to it); its options are: {', '.join(options) or 'none'}")
        if name == "groups":
            if not Path(value).is_file():
                raise InputError(f"groups file not found: {value}")
            value = load_grouping(value)  # stored in the model file, not the path
        merged[fld][option_name] = value


def _check_plugin_options(merged: dict) -> None:
    """Names as registered (``Cross_Stitch`` -> ``cross-stitch``) and options typed by the registries."""
    for kind, registry in _REGISTRIES.items():
        merged[kind] = registry.canonical(merged[kind])
        merged[f"{kind}_hp"] = registry.check_options(merged[kind], merged[f"{kind}_hp"])
    # the heads' options are checked with the rest of the model (molmtl.inference.build_strategy)


def _resolve_tasks(merged: dict, given: Mapping[str, Any]) -> None:
    spec = given.get("tasks")
    data, column = merged.get("data"), merged.get("smiles_column")
    if column is not None and data is None:
        raise InputError("--smiles-column names a column of a --data CSV; QM9 runs have none")
    groups = merged["strategy_hp"].get("groups")
    if spec is None and groups is not None and "tasks" not in given:
        merged["tasks"] = tuple(k for g in groups for k in g)
    elif spec is None and data is not None:
        merged["tasks"] = tuple(csv_target_keys(data, column))
    elif spec is not None:
        merged["tasks"] = parse_tasks(spec if isinstance(spec, str) else ",".join(spec), data, column)


# ---------------------------------------------------------------------- text parsers
def tasks_from_grouping(spec: str) -> str | None:
    """``--tasks FILE`` (every task of a grouping file, in its order) or ``FILE:N`` (its N-th group,
    from 1) as a comma-separated list; None when ``spec`` names no file."""
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


def parse_tasks(spec: str, data: str | None = None, smiles_column: str | None = None) -> tuple[str, ...]:
    """Target keys from ``--tasks``: QM9's keys, or with a CSV its own target columns; a grouping
    file gives its tasks (``FILE``) or one group's (``FILE:N``)."""
    spec = tasks_from_grouping(spec) or spec
    if data is None or spec.strip().lower() == "libmtl":
        try:
            return parse_targets(spec)
        except (KeyError, ValueError) as exc:
            raise InputError(str(exc.args[0] if exc.args else exc)) from None
    columns = csv_target_keys(data, smiles_column)
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


def csv_target_keys(data, smiles_column: str | None) -> list[str]:
    """The target keys of a CSV's label columns (its header only); InputError if it has none."""
    keys = [t.key for t in read_csv(data, validate=False, labels=False, smiles_column=smiles_column).targets]
    if not keys:
        raise InputError(f"{data} has no target column besides its SMILES (and id/name) column; training needs one")
    return keys


def parse_task_weights(spec: str) -> dict[str, float]:
    """``"U0=0.25,homo=2"`` -> ``{"U0": 0.25, "homo": 2.0}`` (QM9 keys in any spelling)."""
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


def parse_split_sizes(spec: str) -> tuple:
    """``"0.8,0.1"``, ``"0.8,0.1,0.1"`` (fractions; three must add up to 1) or ``"1000,100"``
    (counts; the test part is the rest) -> the (train, val) sizes of a TrainConfig."""
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


__all__ = ["RegistryHelp", "config_parameters", "with_parameters", "split_values", "build_config", "parse_tasks",
           "parse_task_weights", "parse_split_sizes", "PLUGIN_OPTIONS", "ALIASES"]
