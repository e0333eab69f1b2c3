"""Model files and predictions from them, without Lightning.

One model file (``model.pt``) holds everything needed to rebuild and use a trained model: a
plain dict saved with ``torch.save`` (tensors and builtins only, so it loads with
``weights_only=True``)::

    {"format": "molmtl-model", "format_version": 1, "molmtl_version": "0.1.0",
     "config": TrainConfig.to_dict(), "targets": [{"key", "unit"}, ...],
     "strategy_state": {...}, "scaler_state": {...},
     "split": {"id", "name", "sizes"}, "metrics": {...},
     "uncertainty": {...},  # optional: the calibration molmtl calibrate wrote (molmtl.uncertainty)
     "companions": [{"model": {...}, "weights": {"mu": 0.9}, "fades": {"mu": 0.01}}]}  # optional: molmtl blend

A *companion* is a second model (its own file body, nested) whose predictions are blended into
some of the model's outputs before the physics relations (:func:`blended`): ``y_k = (1 - w_k) *
own_k + w_k * companion_k``, and for a norm (a dipole moment) with a fade ``e_k`` the companion's
share shrinks where the model's own output vanishes, so that a molecule whose symmetry forbids a
dipole keeps the 0 D of its own vector. ``molmtl blend`` fits ``w_k`` (and ``e_k``) on the
validation part, e.g. a 2D D-MPNN's dipole moment into the SMILES model, whose MMFF conformer
misleads its own dipole head (BENCHMARKS.md).

:func:`build_strategy` turns a config's plug-in names into objects through the registries (the
one place that does, for a new run and for a model file alike); :func:`load_model` rebuilds a
:class:`TrainedModel` and loads its weights; :func:`predict_dataset` and
:func:`predict_molecules` run it in batches. Prediction (``molmtl.predict``), evaluation
(``molmtl.training.evaluate``), the methods and the web server all predict through here.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from molmtl import __version__
from molmtl.chem.elements import symbols_text
from molmtl.chem.embed import FALLBACK_NOTE
from molmtl.chem.features import atom_feature_dim
from molmtl.chem.molecule import Molecule
from molmtl.chem.parse import from_smiles
from molmtl.chem.validate import require_supported
from molmtl.config import TrainConfig
from molmtl.data.batching import MolDataset, collate
from molmtl.data.cache import atomic_path
from molmtl.data.geometries import iter_embedded
from molmtl.errors import (
    InputError,
    MolmtlError,
    NotFoundError,
    UnsupportedMoleculeError,
)
from molmtl.models.heads import HEAD_OPTIONS, make_head
from molmtl.models.normalize import TargetScaler
from molmtl.models.registry import ENCODERS
from molmtl.mtl.base import Strategy
from molmtl.mtl.registry import STRATEGIES
from molmtl.physics import apply_relations, derived_keys
from molmtl.registry import check_options
from molmtl.targets import Target, custom_target, get_target, resolve_target
from molmtl.units import QM9_ELEMENTS

log = logging.getLogger(__name__)

FORMAT = "molmtl-model"
#: 2: dipole heads have no bias after the norm (files of format 1 load with ``dipole_bias=True``);
#: 3: companions (written only by files that have them, so a file without reads in molmtl of format 2).
FORMAT_VERSION = 3
_PLAIN_FORMAT = 2


def encoder_class(config: TrainConfig) -> type:
    """The encoder class a config names (for its ``needs_graph`` / ``needs_geometry`` flags)."""
    return ENCODERS.get(config.encoder)


def build_strategy(config: TrainConfig) -> Strategy:
    """The (untrained) strategy ``config`` describes, with its encoders and heads.

    The registries check every name and option first (one sentence for a wrong one); element
    tables (PaiNN's embedding, the heads' offsets) are as large as the heaviest element needs,
    and 2D encoders' atom features are one-hot over the model's elements.
    """
    entry = ENCODERS.entry(config.encoder)
    ENCODERS.check_options(config.encoder, config.encoder_hp)
    check_options("the task heads", HEAD_OPTIONS, config.head_hp)
    injected: dict[str, Any] = {}
    if _accepts(entry.obj, "max_z"):
        injected["max_z"] = config.max_z
    if _accepts(entry.obj, "in_dim"):
        injected["in_dim"] = atom_feature_dim(config.elements)
    # partials, not lambdas: strategies may keep their factories, and DDP spawn pickles them
    return STRATEGIES.build(
        config.strategy,
        [resolve_target(k) for k in config.tasks],  # users' CSV columns become custom targets
        partial(ENCODERS.build, config.encoder, **injected, **config.encoder_hp),
        partial(make_head, **{"max_z": config.max_z, **config.head_hp}),
        **config.strategy_hp,
    )


def _accepts(cls, name: str) -> bool:
    return name in inspect.signature(cls.__init__ if isinstance(cls, type) else cls).parameters


class TrainedModel(nn.Module):
    """A strategy and its target scaler: molecules in, properties in the registry's units out.

    Attributes:
        strategy: the trained :class:`molmtl.mtl.base.Strategy`.
        scaler: its :class:`molmtl.models.normalize.TargetScaler`.
        config: the :class:`TrainConfig` it was trained with.
        targets: the predicted targets, in column order.
        info: split, metrics, version and file hash stored with (or taken from) the model file.
    """

    def __init__(self, strategy, scaler, config: TrainConfig, info: dict[str, Any] | None = None, *,
                 relations: bool = True, companions: Sequence[tuple] = ()):
        super().__init__()
        self.strategy, self.scaler, self.config = strategy, scaler, config
        self.targets: tuple[Target, ...] = tuple(scaler.targets)
        self.info = dict(info or {})
        #: Impose :mod:`molmtl.physics` (computed rotational constants, consistent energies) on
        #: the heads' outputs; False gives the heads' raw values. Only for QM9 models: a CSV's
        #: columns named U0 or A need not be QM9's quantities (another level of theory, other atoms).
        self.relations = relations and config.data is None
        #: Models blended into the outputs (:meth:`outputs`), each with ``{key: weight}`` and
        #: ``{key: fade}``; ``companions`` are ``(model, weights)`` or ``(model, weights, fades)``.
        self.companions = nn.ModuleList(c[0] for c in companions)
        self.companion_weights: list[dict[str, float]] = [dict(c[1]) for c in companions]
        self.companion_fades: list[dict[str, float]] = [dict(c[2]) if len(c) > 2 else {} for c in companions]
        for model, weights, fades in zip(self.companions, self.companion_weights, self.companion_fades):
            check_companion(self, model, weights, fades)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.targets)

    @property
    def needs_graph(self) -> bool:
        """Batches need 2D graphs (for the encoder or a companion's)."""
        return bool(encoder_class(self.config).needs_graph) or any(m.needs_graph for m in self.companions)

    @property
    def needs_geometry(self) -> bool:
        """Batches need 3D positions (for the encoder or a companion's)."""
        return bool(encoder_class(self.config).needs_geometry) or any(m.needs_geometry for m in self.companions)

    @torch.no_grad()
    def forward(self, batch) -> Tensor:
        """``(B, T)`` float64 predictions in the registry's units for a :class:`MolBatch`."""
        return self.outputs(batch)[0]

    @torch.no_grad()
    def outputs(self, batch) -> tuple[Tensor, Tensor | None]:
        """Predictions (as :meth:`forward`) and the strategy's ``(B, E)`` molecule embedding (or None)."""
        out = self.strategy(batch)
        pred = self.scaler.denormalize(out.pred.float(), batch)
        for model, weights, fades in self.blends():
            theirs = model.scaler.denormalize(model.strategy(batch).pred.float(), batch)
            for key, w in weights.items():
                i, j = self.keys.index(key), model.keys.index(key)
                pred[:, i] = blended(pred[:, i], theirs[:, j], w, fades.get(key, 0.0))
        if self.relations:
            pos = None if batch.pos is None else batch.pos.detach().cpu().double().numpy()
            fixed = apply_relations(pred.cpu().numpy(), self.keys, batch.z.cpu().numpy(), pos)
            pred = torch.from_numpy(fixed).to(pred.device)
        return pred, out.embedding

    def blends(self) -> list[tuple["TrainedModel", dict[str, float], dict[str, float]]]:
        """``(companion, weights, fades)`` of each companion."""
        return list(zip(self.companions, self.companion_weights, self.companion_fades))

    def derived(self) -> dict[str, str]:
        """Outputs the model computes rather than predicts (key -> how; :func:`molmtl.physics.derived_keys`)."""
        return derived_keys(self.keys, self.needs_geometry) if self.relations else {}


def blended(own: Tensor, theirs: Tensor, weight: float, fade: float = 0.0) -> Tensor:
    """``(1 - w s) own + w s theirs`` with ``s = own^2 / (own^2 + fade^2)`` (``s = 1`` without a
    fade). A fade is for norms (a dipole moment): the companion's value counts as at least 0, and its
    share vanishes where the model's own norm does (a molecule whose symmetry forbids a dipole: a
    2D model cannot see that, the model's vector readout gives it exactly)."""
    if fade > 0:
        theirs = theirs.clamp(min=0.0)
        share = weight * own * own / (own * own + fade * fade)
    else:
        share = torch.full_like(own, weight)
    return (1.0 - share) * own + share * theirs


def check_companion(model: TrainedModel, companion: TrainedModel, weights: dict[str, float],
                    fades: dict[str, float] | None = None) -> None:
    """InputError unless ``companion`` can be blended into ``model`` for ``weights``' keys: both
    predict each key, each weight is in [0, 1], each fade a number >= 0 for a blended key, and the
    two read molecules alike (the same elements: a 2D encoder's atom features are one-hot over them)."""
    for key, w in weights.items():
        if key not in model.keys or key not in companion.keys:
            raise InputError(f"a blended output must be a target of both models; {key!r} is not "
                             f"({', '.join(model.keys)} / {', '.join(companion.keys)})")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0:
            raise InputError(f"a blend weight must be a number in [0, 1], got {w!r} for {key}")
    for key, e in (fades or {}).items():
        if key not in weights or isinstance(e, bool) or not isinstance(e, (int, float)) or not e >= 0:
            raise InputError(f"a blend fade must be a number >= 0 for a blended output, got {e!r} for {key}")
    if tuple(companion.config.elements) != tuple(model.config.elements):
        raise InputError(f"the companion model was trained on elements {symbols_text(companion.config.elements)}, "
                         f"the model on {symbols_text(model.config.elements)}: they must be the same")
    if companion.companions:
        raise InputError("a companion model cannot have companions of its own")


def model_body(*, strategy, scaler, config: TrainConfig, split=None, metrics: dict[str, Any] | None = None,
               companions: Sequence[tuple] = ()) -> dict[str, Any]:
    """The dict a model file holds (the module's docstring); ``split`` a
    :class:`~molmtl.data.splits.Split` or its entry as a model file holds it."""
    body = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION if companions else _PLAIN_FORMAT,
        "molmtl_version": __version__,
        "config": config.to_dict(),
        "targets": [{"key": t.key, "unit": t.unit} for t in scaler.targets],
        "strategy_state": {k: v.detach().cpu() for k, v in strategy.state_dict().items()},
        "scaler_state": {k: v.detach().cpu() for k, v in scaler.state_dict().items()},
        "split": split if split is None or isinstance(split, dict) else
        {"id": split.id, "name": split.name, "sizes": list(split.sizes())},
        "metrics": metrics or {},
    }
    if companions:
        body["companions"] = [{"model": companion_body(c[0]), "weights": {k: float(v) for k, v in c[1].items()},
                               "fades": {k: float(v) for k, v in (c[2] if len(c) > 2 else {}).items()}}
                              for c in companions]
    return body


def companion_body(model: TrainedModel) -> dict[str, Any]:
    """A loaded model's file body again (its split and metrics as loaded; no calibration)."""
    return model_body(strategy=model.strategy, scaler=model.scaler, config=model.config,
                      split=model.info.get("split"), metrics=model.info.get("metrics"))


def save_model(path: str | Path, *, strategy, scaler, config: TrainConfig, split=None,
               metrics: dict[str, Any] | None = None,
               companions: Sequence[tuple] = ()) -> Path:
    """Write the model file atomically (a crash leaves the old file or none)."""
    body = model_body(strategy=strategy, scaler=scaler, config=config, split=split, metrics=metrics,
                      companions=companions)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(body, tmp)
    return path


def model_path(path: str | Path) -> Path:
    """The model file itself for a model file or a run folder holding ``model.pt``."""
    path = Path(path)
    return path / "model.pt" if path.is_dir() else path


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The raw dict of a model file (checked to be one)."""
    path = model_path(path)
    if not path.is_file():
        raise NotFoundError(f"model file not found: {path}")
    try:
        body = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input
        raise InputError(f"{path} is not a readable molmtl model file: {type(exc).__name__}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise InputError(f"{path} is not a molmtl model file")
    if body.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(f"{path} was written by a newer molmtl (format {body['format_version']}); upgrade molmtl")
    return body


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (a model's provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _target(entry: dict) -> Target:
    try:
        return get_target(entry["key"])
    except KeyError:
        return custom_target(entry["key"], entry.get("unit", ""))


def load_model(path: str | Path) -> TrainedModel:
    """Rebuild a :class:`TrainedModel` from a model file (or a run folder holding ``model.pt``)."""
    body = read_model_file(path)
    model = model_from_body(body, path=str(model_path(path)))
    companions = []
    for entry in body.get("companions") or []:
        companion = model_from_body(entry["model"], path=f"{model_path(path)} (companion)")
        companions.append((companion, dict(entry["weights"]), dict(entry.get("fades") or {})))
    if companions:
        model = TrainedModel(model.strategy, model.scaler, model.config, model.info, companions=companions).eval()
    return model


def model_from_body(body: dict[str, Any], *, path: str) -> TrainedModel:
    """A :class:`TrainedModel` (without companions) from a model file's dict."""
    config = TrainConfig.from_dict(body["config"])
    if body.get("format_version", 1) < 2 and "dipole_bias" not in config.head_hp:
        config = config.replace(head_hp={**config.head_hp, "dipole_bias": True})  # as it was trained
    strategy = build_strategy(config)
    strategy.load_state_dict(body["strategy_state"])
    scaler = TargetScaler([_target(e) for e in body["targets"]], config.max_z)
    scaler.load_state_dict(body["scaler_state"])
    info = {"split": body.get("split"), "metrics": body.get("metrics", {}), "molmtl_version": body.get("molmtl_version"),
            "path": path, "uncertainty": body.get("uncertainty")}
    return TrainedModel(strategy, scaler, config, info).eval()


#: Molecules per model call: on a CPU small size-sorted batches stay in cache (1,000 test molecules
#: through the shipped PaiNN: 1.2 s at 64, 2.8 s at 256); a GPU wants large ones.
CPU_BATCH, GPU_BATCH = 64, 1024


@torch.inference_mode()
def predict_dataset(model: TrainedModel, dataset, *, batch_size: int | None = None,
                    device: str | torch.device = "cpu", embeddings: bool = False):
    """Labels (the dataset's targets; NaN where it has none) and predictions ``(n, T)`` (float64,
    registry units) of a model on a dataset (:class:`~molmtl.data.batching.MolDataset`), in the
    dataset's order; with ``embeddings``, also the ``(n, E)`` float32 molecule embeddings
    (:attr:`~molmtl.mtl.base.StrategyOutput.embedding`; ``(n, 0)`` when the strategy gives none).

    Molecules are batched by size (each batch padded to its own largest molecule): the dense
    encoders' pair work grows as the square of the padded width, and a random batch of QM9
    molecules is almost always padded to 27-29 atoms where the mean is 18. A molecule's
    prediction does not depend on its batch (padding is masked), so the order changes nothing
    but the time (``benchmarks/batch_predict.py``).
    """
    model = model.to(device).eval()
    graph, geometry = model.needs_graph, model.needs_geometry
    batch_size = batch_size or (GPU_BATCH if torch.device(device).type == "cuda" else CPU_BATCH)
    n = len(dataset)
    T = len(model.targets)
    ys, preds = None, np.full((n, T), np.nan)
    emb: np.ndarray | None = None
    order = np.argsort(_atom_counts(dataset), kind="stable")
    for start in range(0, n, batch_size):
        rows = order[start:start + batch_size]
        batch = collate([dataset[int(i)] for i in rows], graph=graph, geometry=geometry).to(device)
        pred, e = model.outputs(batch)
        preds[rows] = pred.cpu().numpy()
        if embeddings and e is not None:
            if emb is None:
                emb = np.zeros((n, e.shape[1]), dtype=np.float32)
            emb[rows] = e.float().cpu().numpy()
        if batch.y is not None:
            if ys is None:  # the dataset's targets: a companion's columns may differ from the model's
                ys = np.full((n, batch.y.shape[1]), np.nan)
            ys[rows] = batch.y.cpu().numpy()
    ys = np.full((n, T), np.nan) if ys is None else ys
    if embeddings:
        return ys, preds, (emb if emb is not None else np.zeros((n, 0), dtype=np.float32))
    return ys, preds


def _atom_counts(dataset) -> np.ndarray:
    offsets = getattr(dataset, "offsets", None)
    if offsets is not None:
        return np.diff(np.asarray(offsets))
    return np.array([len(dataset[i]["z"]) for i in range(len(dataset))])


def molecule_dataset(model: TrainedModel, molecules: Sequence[Molecule]) -> MolDataset:
    """The molecules as the model reads them (2D graphs and/or 3D positions, its element vocabulary)."""
    return MolDataset(list(molecules), model.targets, graph=model.needs_graph, geometry=model.needs_geometry,
                      elements=model.config.elements)


def predict_molecules(model: TrainedModel, molecules: Sequence[Molecule], *, batch_size: int | None = None,
                      embeddings: bool = False):
    """``(n, T)`` predictions in the registry's units for molecules (3D models need positions);
    with ``embeddings``, ``(predictions, (n, E) embeddings)`` (:func:`predict_dataset`)."""
    if not molecules:
        empty = np.zeros((0, len(model.targets)))
        return (empty, np.zeros((0, 0), dtype=np.float32)) if embeddings else empty
    out = predict_dataset(model, molecule_dataset(model, molecules), batch_size=batch_size, embeddings=embeddings)
    return (out[1], out[2]) if embeddings else out[1]


def require_model_domain(molecule: Molecule, model: TrainedModel) -> None:
    """UnsupportedMoleculeError unless ``model`` can predict ``molecule``: only the elements it was
    trained on, neutral, closed shell (the models have no charge or spin input). The sentence
    points to GFN2-xTB, which takes any element to Rn, charge and spin (QM9's DFT protocol has
    the network's limits)."""
    elements = frozenset(model.config.elements)
    trained_on = ("QM9 molecules of H, C, N, O and F" if elements == QM9_ELEMENTS
                  else f"molecules of {symbols_text(elements)}")
    try:
        require_supported(molecule, elements=elements, method=f"the ML model (trained on neutral, closed-shell {trained_on})")
    except UnsupportedMoleculeError as exc:
        raise UnsupportedMoleculeError(f"{exc}; GFN2-xTB takes it: --methods xtb in molmtl compare") from None


def predict_smiles(model: TrainedModel, smiles: Sequence[str], *, names: Sequence[str] | None = None,
                   batch_size: int | None = None, workers: int = 1) -> tuple[np.ndarray, list[str | None]]:
    """Predict many SMILES at once (a CSV's worth); a molecule that cannot be predicted gets a
    reason instead of stopping the others.

    Returns:
        ``(values, errors)``: ``(N, T)`` predictions in the registry's units (NaN rows where
        ``errors[i]`` gives the one-sentence reason; None where the prediction is there).
        3D models embed each SMILES once, through :mod:`molmtl.data.geometries`' store.
    """
    values = np.full((len(smiles), len(model.targets)), np.nan)
    errors: list[str | None] = [None] * len(smiles)
    for row in iter_smiles_predictions(model, smiles, names=names, batch_size=batch_size, workers=workers):
        if row.values is not None:
            values[row.index] = row.values
        errors[row.index] = row.error
    return values, errors


@dataclass
class SmilesPrediction:
    """One row of :func:`iter_smiles_predictions`: the prediction (or why there is none)."""

    index: int
    molecule: Molecule | None
    values: np.ndarray | None
    error: str | None
    embedding: np.ndarray | None = None


def iter_smiles_predictions(model: TrainedModel, smiles: Sequence[str], *, names: Sequence[str] | None = None,
                            batch_size: int | None = None, workers: int = 1,
                            block: int = 256) -> Iterator[SmilesPrediction]:
    """:func:`predict_smiles` row by row, in input order, as blocks of ``block`` molecules are
    ready: 3D models embed in ``workers`` processes that run ahead while this one predicts, so
    the first rows come long before the last are embedded."""
    names = list(smiles) if names is None else list(names)
    checked: dict[int, Molecule] = {}
    errors: dict[int, str] = {}
    for i, (smi, name) in enumerate(zip(smiles, names)):
        try:
            mol = from_smiles(smi, embed=False, name=name)
            require_model_domain(mol, model)
            checked[i] = mol
        except MolmtlError as exc:
            errors[i] = str(exc)
    rows = list(checked)
    if model.needs_geometry:
        stream = ((rows[k], mol, err) for k, mol, err in
                  iter_embedded([smiles[i] for i in rows], [names[i] for i in rows], workers=workers))
    else:
        stream = ((i, checked[i], None) for i in rows)
    pending: list[tuple[int, Molecule]] = []
    next_row, n_fallback = 0, 0

    def flush(upto: int) -> Iterator[SmilesPrediction]:
        nonlocal next_row
        values, emb = (predict_molecules(model, [m for _, m in pending], batch_size=batch_size, embeddings=True)
                       if pending else (None, None))
        done = {i: (m, values[k], emb[k] if emb.shape[1] else None) for k, (i, m) in enumerate(pending)}
        pending.clear()
        while next_row < upto:
            i = next_row
            mol, vals, e = done.get(i, (None, None, None))
            yield SmilesPrediction(i, mol, vals, errors.get(i), e)
            next_row += 1

    for i, mol, error in stream:
        if mol is None:
            errors[i] = error
        else:
            n_fallback += FALLBACK_NOTE in mol.warnings
            pending.append((i, mol))
        if len(pending) >= block:
            yield from flush(i + 1)
    yield from flush(len(smiles))
    if n_fallback:
        log.warning("%d of %d molecules got a fallback 3D geometry (ETKDG rejected them; expect larger errors "
                    "for them)", n_fallback, len(smiles))


__all__ = ["TrainedModel", "build_strategy", "encoder_class", "save_model", "read_model_file", "load_model",
           "model_path", "model_body", "model_from_body", "companion_body", "check_companion", "blended", "file_sha256", "predict_dataset", "predict_molecules", "predict_smiles", "iter_smiles_predictions", "SmilesPrediction", "molecule_dataset",
           "require_model_domain", "FORMAT_VERSION"]
