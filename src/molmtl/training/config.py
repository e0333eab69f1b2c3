"""The training configuration: every hyper-parameter of a run in one visible block.

A :class:`TrainConfig` is plain data (strings, numbers, dicts) so it pickles, prints, and is
stored inside the model file; :func:`build_strategy` and :func:`build_balancer` turn it into
objects through the registries of ``molmtl.models`` and ``molmtl.mtl``.
"""

from __future__ import annotations

import inspect
import math
from functools import partial
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from molmtl.chem.elements import symbols_text
from molmtl.chem.features import atom_feature_dim
from molmtl.data.splits import Split, check_sizes, make_split
from molmtl.errors import InputError
from molmtl.targets import TARGET_KEYS
from molmtl.units import ML_ELEMENTS


#: Lightning's accelerator names that molmtl runs on (not mps: the target scaler keeps float64 buffers).
ACCELERATORS = ("cpu", "gpu", "cuda", "auto")


def _valid_devices(devices) -> bool:
    """``auto``, a positive count, -1 (all), or a comma-separated list of device indices (Lightning's forms)."""
    if isinstance(devices, bool):
        return False
    if isinstance(devices, int):
        return devices > 0 or devices == -1
    if isinstance(devices, (list, tuple)):
        return len(devices) > 0 and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in devices)
    text = str(devices).strip()
    if text in ("auto", "-1"):
        return True
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return bool(parts) and all(p.isdigit() for p in parts) and (len(parts) > 1 or text.endswith(",") or int(parts[0]) > 0)


#: TrainConfig fields that shape a model's parameters (see :meth:`TrainConfig.architecture`).
ARCHITECTURE = ("tasks", "encoder", "encoder_hp", "head_hp", "strategy", "strategy_hp", "normalization", "elements")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (defaults: a small PaiNN with hard sharing)."""

    # --- what to learn -------------------------------------------------------------------
    tasks: tuple[str, ...] = TARGET_KEYS  # target keys, output column order
    encoder: str = "painn"  # gcn | mpnn | painn (molmtl.models.registry.ENCODERS)
    encoder_hp: dict[str, Any] = field(default_factory=dict)  # passed to make_encoder
    head_hp: dict[str, Any] = field(default_factory=dict)  # passed to make_head (hidden, set2set, ...)
    strategy: str = "hard"  # single | hard | soft | cross-stitch | mrn | clustered
    strategy_hp: dict[str, Any] = field(default_factory=dict)  # lam, group_lasso, groups, ...
    weighting: str = "equal"  # a balancer name (molmtl.mtl.balancers)
    weighting_hp: dict[str, Any] = field(default_factory=dict)
    loss: str = "mse"  # per-task loss on normalized targets: mse | l1
    task_weights: dict[str, float] = field(default_factory=dict)  # static loss weight per task key (missing: 1)
    init_from: str | None = None  # a model file whose weights and target scaler the run starts from (fine-tuning)
    # --- data ----------------------------------------------------------------------------
    data: str | None = None  # None = QM9, else a CSV path
    smiles_column: str | None = None  # the CSV's SMILES column (None: smiles, SMILES, ... whichever is there)
    geometry: str = "qm9"  # QM9 runs: qm9 (its B3LYP geometries) | rdkit (ETKDG + MMFF from SMILES; molmtl.data.rdkit_qm9)
    split: str = "random"  # random | random:SEED | scaffold | FILE.json (molmtl.data.splits)
    split_sizes: tuple | None = None  # (train, val): fractions (0.8, 0.1) or counts, for random/scaffold splits; None = standard
    max_molecules: int | None = None  # cut every split part to its first N (quick runs)
    normalization: str = "element"  # element: per-element refs + standardize; zscore: mean/std only
    elements: tuple[int, ...] = (1, 6, 7, 8, 9)  # atomic numbers the model embeds (a CSV run adds its own)
    # --- optimization --------------------------------------------------------------------
    epochs: int = 100
    batch_size: int = 64
    lr: float = 5e-4  # peak AdamW learning rate
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine: linear warm-up then cosine decay | plateau: x factor on stalls
    warmup_epochs: float = 1.0  # cosine warm-up length (fraction of epochs allowed)
    min_lr_ratio: float = 0.01  # final LR / peak LR for cosine; floor for plateau
    plateau_factor: float = 0.7  # plateau: LR multiplier when validation stalls
    plateau_patience: int = 5  # plateau: epochs without improvement before cutting the LR
    grad_clip: float | None = 10.0  # max global gradient norm (None: no clipping)
    ema: float = 0.0  # decay of an exponential moving average of the weights, validated and saved (0: off; e.g. 0.999)
    early_stopping: int | None = 30  # stop after this many epochs without val improvement (None: off)
    seed: int = 0
    # --- hardware ------------------------------------------------------------------------
    accelerator: str = "auto"  # cpu | gpu | auto
    devices: str | int = "auto"
    precision: str = "32-true"  # 32-true | bf16-mixed
    compile: bool = False  # torch.compile the strategy (GPU; slow to start)
    num_workers: int = 0  # DataLoader workers
    device_data: bool = False  # QM9 + 3D encoder: whole padded set on the device, no DataLoader (GPU speed)
    trim_to: int = 0  # device_data: cut each batch to its largest molecule, rounded up to a multiple of this (0: off)
    sort_window: int = 0  # device_data: size-sort windows of this many shuffled training molecules, so trim_to cuts padding

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "elements", tuple(sorted({int(z) for z in self.elements})))
        object.__setattr__(self, "accelerator", str(self.accelerator).strip().lower())  # Lightning's names are lower case
        if self.split_sizes is not None:
            object.__setattr__(self, "split_sizes", check_sizes(self.split_sizes))
        self.validate()

    def validate(self) -> None:
        """Raise InputError (one sentence) for a value no run can use."""
        if not self.tasks:
            raise InputError("at least one task is needed")
        if self.geometry not in ("qm9", "rdkit"):
            raise InputError(f"geometry must be qm9 (QM9's B3LYP geometries) or rdkit (ETKDG + MMFF from SMILES), got {self.geometry!r}")
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
        if int(self.epochs) <= 0:
            raise InputError(f"epochs must be a positive integer, got {self.epochs}")
        if int(self.batch_size) <= 0:
            raise InputError(f"batch size must be positive, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InputError(f"learning rate must be a positive number, got {self.lr}")
        if self.max_molecules is not None and self.max_molecules <= 0:
            raise InputError(f"max molecules must be positive, got {self.max_molecules}")
        if self.loss not in ("mse", "l1"):
            raise InputError(f"unknown loss {self.loss!r}; use mse or l1")
        if self.schedule not in ("cosine", "plateau"):
            raise InputError(f"unknown LR schedule {self.schedule!r}; use cosine or plateau")
        if isinstance(self.warmup_epochs, bool) or not isinstance(self.warmup_epochs, (int, float)) \
                or not (self.warmup_epochs >= 0 and math.isfinite(self.warmup_epochs)):
            raise InputError(f"warm-up length must be a number of epochs >= 0, got {self.warmup_epochs!r}")
        if isinstance(self.plateau_factor, bool) or not isinstance(self.plateau_factor, (int, float)) \
                or not 0 < self.plateau_factor < 1:
            raise InputError(f"plateau factor (the LR multiplier on a stall) must be between 0 and 1, got {self.plateau_factor!r}")
        if isinstance(self.plateau_patience, bool) or not isinstance(self.plateau_patience, int) or self.plateau_patience < 0:
            raise InputError(f"plateau patience must be a whole number of epochs >= 0, got {self.plateau_patience!r}")
        if self.normalization not in ("element", "zscore"):
            raise InputError(f"unknown normalization {self.normalization!r}; use element or zscore")
        # bf16-true would cast the scaler's float64 references (and the float32 heads) to bf16
        if self.precision not in ("32-true", "32", "bf16-mixed"):
            raise InputError(f"precision {self.precision!r} is not supported; use 32-true or bf16-mixed")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise InputError(f"weight decay must be a number >= 0, got {self.weight_decay}")
        if isinstance(self.ema, bool) or not isinstance(self.ema, (int, float)) or not 0 <= self.ema < 1:
            raise InputError(f"EMA decay must be a number from 0 (off) to below 1, e.g. 0.999; got {self.ema!r}")
        if not 0 <= int(self.seed) < 2**32:
            raise InputError(f"seed must be an integer from 0 to 2**32 - 1, got {self.seed}")
        if self.early_stopping is not None and int(self.early_stopping) < 0:
            raise InputError(f"early-stopping patience must be >= 0 epochs (0: off), got {self.early_stopping}")
        for name in ("trim_to", "sort_window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"{name} (--{name.replace('_', '-')}) must be an integer >= 0 (0: off), got {value!r}")
        if (self.trim_to or self.sort_window) and not self.device_data:
            raise InputError("trimming batches (trim_to, sort_window) needs device-resident data (device_data, "
                             "--device-data); DataLoader batches are already padded to their largest molecule")
        if self.accelerator not in ACCELERATORS:
            raise InputError(f"unknown accelerator {self.accelerator!r}; use {', '.join(ACCELERATORS)}")
        if not _valid_devices(self.devices):
            raise InputError(f"devices must be a positive number, -1 (all) or auto, got {self.devices!r}")

    def weight_of(self, task: str) -> float:
        """The static loss weight of ``task`` (1 unless ``task_weights`` says otherwise)."""
        return float(self.task_weights.get(task, 1.0))

    @property
    def max_z(self) -> int:
        """Largest atomic number the model's element tables hold (at least 10, QM9 models' size)."""
        return max(10, *self.elements)

    def architecture(self) -> dict[str, Any]:
        """The fields that shape the model's parameters: two configs whose architectures are
        equal give strategies whose weights load into each other."""
        return {name: getattr(self, name) for name in ARCHITECTURE}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = list(self.tasks)
        d["elements"] = list(self.elements)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys (from newer versions) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def replace(self, **changes) -> "TrainConfig":
        return replace(self, **changes)


def lr_factor(step: int, *, total_steps: int, warmup_steps: int, min_ratio: float) -> float:
    r"""Learning-rate multiplier: linear warm-up, then cosine decay to ``min_ratio``.

    .. math::
        f(s) = \begin{cases} (s+1)/w & s < w \\
        r + (1-r)\,\tfrac12\left(1+\cos\pi\,\tfrac{s-w}{S-w}\right) & s \ge w \end{cases}

    Args:
        step: optimizer steps taken so far (0-based).
        total_steps: S, steps of the whole run.
        warmup_steps: w, steps of linear warm-up (warm-up avoids large early Adam steps while its
            second-moment estimate is still noisy).
        min_ratio: r, the final multiplier.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_strategy(config: TrainConfig):
    """The (untrained) strategy ``config`` describes, with its encoders and heads."""
    from molmtl.models.heads import make_head
    from molmtl.models.registry import make_encoder
    from molmtl.mtl.registry import make_strategy
    from molmtl.targets import resolve_target

    enc = encoder_class(config)  # fail early, with one sentence, on an unknown name
    # element tables (PaiNN's embedding, heads' offsets) as large as the heaviest element needs
    accepted = inspect.signature(enc.__init__).parameters
    enc_z = {"max_z": config.max_z} if "max_z" in accepted else {}
    if "in_dim" in accepted:  # 2D encoders: atom features one-hot over the model's elements
        enc_z["in_dim"] = atom_feature_dim(config.elements)
    # partials, not lambdas: strategies may keep their factories, and DDP spawn pickles them
    return make_strategy(
        config.strategy,
        tasks=[resolve_target(k) for k in config.tasks],  # users' CSV columns become custom targets
        encoder_factory=partial(make_encoder, config.encoder, **{**enc_z, **config.encoder_hp}),
        head_factory=partial(make_head, **{"max_z": config.max_z, **config.head_hp}),
        **config.strategy_hp,
    )


def build_balancer(config: TrainConfig):
    """The loss balancer ``config`` names."""
    from molmtl.mtl.balancers import make_balancer

    return make_balancer(config.weighting, n_tasks=len(config.tasks), **config.weighting_hp)


def encoder_class(config: TrainConfig):
    """The encoder class (for its ``needs_graph`` / ``needs_geometry`` flags)."""
    from molmtl.models.registry import ENCODERS

    key = str(config.encoder).strip().lower()
    if key not in ENCODERS:
        raise InputError(f"unknown encoder {config.encoder!r}; choose one of: {', '.join(ENCODERS)}")
    return ENCODERS[key]




def cut_split(split: Split, max_molecules: int | None) -> Split:
    """First ``max_molecules`` training rows, and a fifth of that (at least 16) of validation and test."""
    if max_molecules is None:
        return split
    n_eval = max(max_molecules // 5, 16)
    return split.head(max_molecules, n_eval, n_eval)


def run_split(config, n: int, smiles: list[str]) -> Split:
    """The split a run of ``config`` uses on ``n`` molecules (its spec and sizes, then cut to
    ``max_molecules``): for training, evaluation and telling where a molecule was."""
    return cut_split(make_split(config.split, n, smiles=smiles, sizes=config.split_sizes), config.max_molecules)


__all__ = ["TrainConfig", "lr_factor", "build_strategy", "build_balancer", "encoder_class", "cut_split", "run_split"]
