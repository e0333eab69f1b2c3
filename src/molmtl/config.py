"""The training configuration: every hyper-parameter of a run in one visible block.

A :class:`TrainConfig` is plain data (strings, numbers, dicts), so it pickles, prints, is stored
in the model file and in a run folder's ``config.json``, and reads back from a TOML, YAML or
JSON file (:func:`read_config_file`). Each field carries its help text (and unit) in its
metadata; ``molmtl train``'s options are generated from them. Plug-ins are named here, not
built: their options (``encoder_hp``, ``strategy_hp``, ...) are checked by their registries
when the model is assembled (:func:`molmtl.inference.build_strategy`).
"""

from __future__ import annotations

import json
import math
import tomllib
import typing
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

from molmtl.chem.elements import symbols_text
from molmtl.data.splits import Split, check_sizes, cut_split, make_split
from molmtl.errors import InputError, NotFoundError
from molmtl.registry import coerce
from molmtl.targets import TARGET_KEYS
from molmtl.units import ML_ELEMENTS, QM9_ELEMENTS

#: Lightning's accelerator names that molmtl runs on (not mps: the target scaler keeps float64 buffers).
ACCELERATORS = ("cpu", "gpu", "cuda", "auto")
#: Precisions molmtl trains in (bf16-true would cast the scaler's float64 references to bf16).
PRECISIONS = ("32-true", "32", "bf16-mixed")


def option(default: Any = MISSING, help: str = "", *, unit: str | None = None, choices: tuple | None = None,
           cli: bool = True, default_factory: Any = MISSING) -> Any:
    """A config field with its help text, unit and allowed values (``cli=False``: not a
    command-line option, e.g. a value derived from the data)."""
    meta = {"help": help, "unit": unit, "choices": choices, "cli": cli}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def _empty() -> dict:
    return {}


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (defaults: a small PaiNN with hard sharing)."""

    # --- what to learn -------------------------------------------------------------------
    tasks: tuple[str, ...] = option(TARGET_KEYS, "Targets: all, libmtl, keys such as U0,homo,gap, or a grouping "
                                    "file (FILE: all its tasks; FILE:N: its N-th group); with --data, the CSV's columns.")
    encoder: str = option("painn", "Encoder: {encoders}.")
    encoder_hp: dict[str, Any] = option(help="Encoder options (--encoder-opt K=V).", default_factory=_empty, cli=False)
    head_hp: dict[str, Any] = option(help="Task-head options (--head-opt K=V).", default_factory=_empty, cli=False)
    strategy: str = option("hard", "Task-sharing strategy: {strategies}.")
    strategy_hp: dict[str, Any] = option(help="Strategy options (--strategy-opt K=V).", default_factory=_empty, cli=False)
    weighting: str = option("equal", "Loss weighting / gradient aggregation: {weightings}.")
    weighting_hp: dict[str, Any] = option(help="Weighting options (--weighting-opt K=V).", default_factory=_empty, cli=False)
    loss: str = option("mse", "Per-task loss on normalized targets: mse or l1.", choices=("mse", "l1"))
    task_weights: dict[str, float] = option(
        help="Static loss weight per task, KEY=WEIGHT pairs (e.g. U0=0.25,homo=2; others 1), applied before the "
             "weighting/aggregation and in the monitored validation loss.", default_factory=_empty)
    init_from: str | None = option(None, "Fine-tune: start from this model file's weights and target normalization "
                                   "(its architecture and, unless --split/--split-sizes are given, its split).")
    # --- data ----------------------------------------------------------------------------
    data: str | None = option(None, "A CSV of SMILES + target columns instead of QM9 (blank = missing label).")
    smiles_column: str | None = option(None, "The CSV's SMILES column (default: smiles, SMILES, Smiles, "
                                       "canonical_smiles or mol, whichever is there).")
    geometry: str = option("qm9", "QM9 runs: qm9 (its B3LYP geometries) or rdkit (ETKDG + MMFF geometries from "
                           "SMILES, as predict gives SMILES; made once by 'molmtl data prepare --rdkit-geometries').",
                           choices=("qm9", "rdkit"))
    split: str = option("random", "random (QM9's standard 110,000/10,000/10,831), random:SEED, scaffold, or a split .json.")
    split_sizes: tuple | None = option(None, "Random or scaffold split sizes: fractions TRAIN,VAL[,TEST] (e.g. "
                                       "0.8,0.1,0.1) or counts TRAIN,VAL (the test part is the rest).")
    max_molecules: int | None = option(None, "Quick runs: the first N training molecules (and N/5, at least 16, "
                                       "of validation and test).")
    normalization: str = option("element", "Target normalization: element (per-element references, then "
                                "standardization) or zscore (mean and standard deviation).", choices=("element", "zscore"))
    elements: tuple[int, ...] = option((1, 6, 7, 8, 9), "Atomic numbers the model embeds (a CSV run adds its own).",
                                       cli=False)
    # --- optimization --------------------------------------------------------------------
    epochs: int = option(100, "Training epochs.")
    batch_size: int = option(64, "Molecules per batch (per device under DDP).")
    lr: float = option(5e-4, "Peak AdamW learning rate.")
    weight_decay: float = option(0.0, "AdamW weight decay.")
    schedule: str = option("cosine", "LR schedule: cosine (linear warm-up, then cosine decay) or plateau (constant, "
                           "cut by --plateau-factor on validation stalls).", choices=("cosine", "plateau"))
    warmup_epochs: float = option(1.0, "Cosine schedule: linear warm-up from 0 to --lr over this many epochs "
                                  "(fractions allowed, e.g. 0.1 for fine-tuning).", unit="epochs")
    min_lr_ratio: float = option(0.01, "Final LR / peak LR for cosine; the floor for plateau.")
    plateau_factor: float = option(0.7, "Plateau schedule: LR multiplier on a stall.")
    plateau_patience: int = option(5, "Plateau schedule: epochs without improvement before a cut.", unit="epochs")
    grad_clip: float | None = option(10.0, "Largest global gradient norm (0: no clipping).")
    ema: float = option(0.0, "Decay of an exponential moving average of the weights (e.g. 0.999; 0: off): "
                        "validation, checkpoints and the model file use the average.")
    early_stopping: int | None = option(30, "Stop after this many epochs without validation improvement (0: off).",
                                        unit="epochs")
    seed: int = option(0, "Random seed.")
    # --- hardware ------------------------------------------------------------------------
    accelerator: str = option("auto", "Where to train.", choices=ACCELERATORS)
    devices: str | int = option("auto", "Devices per node: a number, -1 (all) or auto.")
    precision: str = option("32-true", "Floating-point precision.", choices=PRECISIONS)
    compile: bool = option(False, "torch.compile the model (GPU; slow to start).")
    num_workers: int = option(0, "DataLoader worker processes.")
    device_data: bool = option(False, "QM9 + 3D encoder: keep the padded training set on the GPU (no DataLoader).")
    trim_to: int = option(0, "With --device-data: cut each batch's atom axis to its largest molecule rounded up to "
                          "a multiple of N (8: at most 4 shapes for torch.compile; 0: off).", unit="atoms")
    sort_window: int = option(0, "With --trim-to: sort windows of this many shuffled training molecules by size, so "
                              "batches hold similar sizes (0: off; the CLI's default with --trim-to is 16 batches).")

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, _field_value(f, getattr(self, f.name)))
        object.__setattr__(self, "elements", tuple(sorted({int(z) for z in self.elements})))
        object.__setattr__(self, "accelerator", str(self.accelerator).strip().lower())  # Lightning's names are lower case
        if isinstance(self.devices, str) and self.devices.strip().lstrip("-").isdigit() and "," not in self.devices:
            object.__setattr__(self, "devices", int(self.devices))
        if self.split_sizes is not None:
            object.__setattr__(self, "split_sizes", check_sizes(self.split_sizes))
        self.validate()

    def validate(self) -> None:
        """Raise InputError (one sentence) for a value no run can use."""
        if not self.tasks:
            raise InputError("at least one task is needed")
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise InputError(f"{f.name} must be one of {', '.join(choices)}, got {getattr(self, f.name)!r}")
        if self.geometry == "rdkit" and self.data is not None:
            raise InputError("--geometry rdkit is for QM9 runs: a CSV run always embeds its SMILES with RDKit")
        unknown = [k for k in self.task_weights if k not in self.tasks]
        if unknown:
            raise InputError(f"task weight for {unknown[0]!r}, which is not one of this run's tasks ({', '.join(self.tasks)})")
        bad = [k for k, w in self.task_weights.items() if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0)]
        if bad:
            raise InputError(f"task weights must be finite numbers >= 0; {bad[0]!r} has {self.task_weights[bad[0]]!r}")
        if self.task_weights and not any(self.weight_of(k) > 0 for k in self.tasks):
            raise InputError("every task weight is 0: nothing would be learned")
        if not self.elements or not set(self.elements) <= ML_ELEMENTS:
            outside = ", ".join(str(z) for z in self.elements if z not in ML_ELEMENTS) or "none given"
            raise InputError(f"models embed the elements {symbols_text(ML_ELEMENTS)} only (atomic numbers outside: {outside})")
        positive = {"epochs": "epochs must be a positive integer", "batch_size": "batch size must be positive"}
        for name, text in positive.items():
            if getattr(self, name) <= 0:
                raise InputError(f"{text}, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InputError(f"learning rate must be a positive number, got {self.lr}")
        if self.max_molecules is not None and self.max_molecules <= 0:
            raise InputError(f"max molecules must be positive, got {self.max_molecules}")
        if not (self.warmup_epochs >= 0 and math.isfinite(self.warmup_epochs)):
            raise InputError(f"warm-up length must be a number of epochs >= 0, got {self.warmup_epochs!r}")
        if not 0 < self.min_lr_ratio <= 1:
            raise InputError(f"min_lr_ratio (final / peak learning rate) must be in (0, 1], got {self.min_lr_ratio!r}")
        if not 0 < self.plateau_factor < 1:
            raise InputError(f"plateau factor (the LR multiplier on a stall) must be between 0 and 1, got {self.plateau_factor!r}")
        if self.plateau_patience < 0:
            raise InputError(f"plateau patience must be a whole number of epochs >= 0, got {self.plateau_patience!r}")
        if self.grad_clip is not None and not (self.grad_clip > 0 and math.isfinite(self.grad_clip)):
            raise InputError(f"gradient clipping norm must be a positive number (or none), got {self.grad_clip!r}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise InputError(f"weight decay must be a number >= 0, got {self.weight_decay}")
        if not 0 <= self.ema < 1:
            raise InputError(f"EMA decay must be a number from 0 (off) to below 1, e.g. 0.999; got {self.ema!r}")
        if not 0 <= self.seed < 2**32:
            raise InputError(f"seed must be an integer from 0 to 2**32 - 1, got {self.seed}")
        if self.early_stopping is not None and self.early_stopping < 0:
            raise InputError(f"early-stopping patience must be >= 0 epochs (0: off), got {self.early_stopping}")
        for name in ("trim_to", "sort_window", "num_workers"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} (--{name.replace('_', '-')}) must be an integer >= 0, got {getattr(self, name)!r}")
        if (self.trim_to or self.sort_window) and not self.device_data:
            raise InputError("trimming batches (trim_to, sort_window) needs device-resident data (device_data, "
                             "--device-data); DataLoader batches are already padded to their largest molecule")
        if not _valid_devices(self.devices):
            raise InputError(f"devices must be a positive number, -1 (all) or auto, got {self.devices!r}")

    def weight_of(self, task: str) -> float:
        """The static loss weight of ``task`` (1 unless ``task_weights`` says otherwise)."""
        return float(self.task_weights.get(task, 1.0))

    @property
    def max_z(self) -> int:
        """Largest atomic number the model's element tables hold (at least 10, QM9 models' size)."""
        return max(10, *self.elements)

    @property
    def qm9_elements_only(self) -> bool:
        return set(self.elements) <= QM9_ELEMENTS

    def architecture(self) -> dict[str, Any]:
        """The fields that shape the model's parameters: two configs whose architectures are
        equal give strategies whose weights load into each other. (``dipole_bias`` and
        ``dipole_bias_width`` in ``head_hp`` change a readout, not a parameter's shape: a
        fine-tuning run may drop them.)"""
        arch = {name: getattr(self, name) for name in ARCHITECTURE}
        arch["head_hp"] = {k: v for k, v in arch["head_hp"].items() if k not in ("dipole_bias", "dipole_bias_width")}
        return arch

    def split_for(self, n: int, smiles: list[str]) -> Split:
        """The split a run of this config uses on ``n`` molecules (its spec and sizes, then cut to
        ``max_molecules``): for training, evaluation and telling where a molecule was."""
        return cut_split(make_split(self.split, n, smiles=smiles, sizes=self.split_sizes), self.max_molecules)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = list(self.tasks)
        d["elements"] = list(self.elements)
        if self.split_sizes is not None:
            d["split_sizes"] = list(self.split_sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys (from newer versions) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def replace(self, **changes) -> "TrainConfig":
        return replace(self, **changes)


#: TrainConfig fields that shape a model's parameters (see :meth:`TrainConfig.architecture`).
ARCHITECTURE = ("tasks", "encoder", "encoder_hp", "head_hp", "strategy", "strategy_hp", "normalization", "elements")


@cache
def field_types() -> dict[str, Any]:
    """TrainConfig's field annotations, resolved."""
    return typing.get_type_hints(TrainConfig)


def _field_value(f: Field, value):
    """``value`` for field ``f``: sequences as tuples where the field is a tuple, strings from a
    config file converted (``"1e-3"`` for a float), anything else of the wrong type refused."""
    kind = field_types()[f.name]
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, list) and f.name in ("tasks", "elements", "split_sizes"):
        value = tuple(value)
    if f.name == "tasks" and isinstance(value, str):
        value = tuple(s for s in value.replace(" ", ",").split(",") if s)
    default = f.default if f.default is not MISSING else None
    return coerce(value, kind, default, f"config field {f.name!r}")


def _valid_devices(devices) -> bool:
    """``auto``, a positive count, -1 (all), or a comma-separated list of device indices (Lightning's forms)."""
    if isinstance(devices, bool):
        return False
    if isinstance(devices, int):
        return devices > 0 or devices == -1
    text = str(devices).strip()
    if text in ("auto", "-1"):
        return True
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return bool(parts) and all(p.isdigit() for p in parts) and (len(parts) > 1 or text.endswith(",") or int(parts[0]) > 0)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a TOML, YAML or JSON config file (a run folder's ``config.json`` too).

    Keys are :class:`TrainConfig` fields (and ``protocol``); InputError for an unreadable file or
    an unknown key, naming the known ones.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"config file not found: {path}")
    suffix = path.suffix.lower()
    text = path.read_text(errors="replace")
    try:
        if suffix == ".toml":
            body = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml  # lazy: PyYAML is Lightning's dependency, optional for molmtl; only YAML configs need it

            body = yaml.safe_load(text)
        elif suffix == ".json":
            body = json.loads(text)
        else:
            raise InputError(f"{path}: a config file is .toml, .yaml/.yml or .json, not {suffix or 'no suffix'!r}")
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - tomllib, yaml and json each raise their own error type
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} is not a readable {suffix[1:].upper()} config: {first}") from None
    if not isinstance(body, dict):
        raise InputError(f"{path} must hold a mapping of config fields, e.g. epochs = 10")
    known = {f.name for f in fields(TrainConfig)} | {"protocol"}
    unknown = [k for k in body if k not in known]
    if unknown:
        raise InputError(f"{path}: unknown config field {unknown[0]!r}; the fields are: {', '.join(sorted(known))}")
    return body


__all__ = ["TrainConfig", "ARCHITECTURE", "ACCELERATORS", "PRECISIONS", "option", "field_types", "read_config_file"]
