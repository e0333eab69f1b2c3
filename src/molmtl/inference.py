"""Model files and predictions from them, without Lightning.

One model file (``model.pt``) holds everything needed to rebuild and use a trained model: a
plain dict saved with ``torch.save`` (tensors and builtins only, so it loads with
``weights_only=True``)::

    {"format": "molmtl-model", "format_version": 1, "molmtl_version": "0.1.0",
     "config": TrainConfig.to_dict(), "targets": [{"key", "unit"}, ...],
     "strategy_state": {...}, "scaler_state": {...},
     "split": {"id", "name", "sizes"}, "metrics": {...}}

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
from collections.abc import Sequence
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
from molmtl.data.geometries import embed_smiles
from molmtl.errors import InputError, MolmtlError, NotFoundError
from molmtl.models.heads import HEAD_OPTIONS, make_head
from molmtl.models.normalize import TargetScaler
from molmtl.models.registry import ENCODERS
from molmtl.mtl.base import Strategy
from molmtl.mtl.registry import STRATEGIES
from molmtl.registry import check_options
from molmtl.targets import Target, custom_target, get_target, resolve_target
from molmtl.units import QM9_ELEMENTS

log = logging.getLogger(__name__)

FORMAT = "molmtl-model"
FORMAT_VERSION = 1


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

    def __init__(self, strategy, scaler, config: TrainConfig, info: dict[str, Any] | None = None):
        super().__init__()
        self.strategy, self.scaler, self.config = strategy, scaler, config
        self.targets: tuple[Target, ...] = tuple(scaler.targets)
        self.info = dict(info or {})

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.targets)

    @property
    def needs_graph(self) -> bool:
        return bool(encoder_class(self.config).needs_graph)

    @property
    def needs_geometry(self) -> bool:
        return bool(encoder_class(self.config).needs_geometry)

    @torch.no_grad()
    def forward(self, batch) -> Tensor:
        """``(B, T)`` float64 predictions in the registry's units for a :class:`MolBatch`."""
        return self.scaler.denormalize(self.strategy(batch).pred.float(), batch)


def save_model(path: str | Path, *, strategy, scaler, config: TrainConfig, split=None,
               metrics: dict[str, Any] | None = None) -> Path:
    """Write the model file atomically (a crash leaves the old file or none)."""
    body = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "molmtl_version": __version__,
        "config": config.to_dict(),
        "targets": [{"key": t.key, "unit": t.unit} for t in scaler.targets],
        "strategy_state": {k: v.detach().cpu() for k, v in strategy.state_dict().items()},
        "scaler_state": {k: v.detach().cpu() for k, v in scaler.state_dict().items()},
        "split": None if split is None else {"id": split.id, "name": split.name, "sizes": list(split.sizes())},
        "metrics": metrics or {},
    }
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
    config = TrainConfig.from_dict(body["config"])
    strategy = build_strategy(config)
    strategy.load_state_dict(body["strategy_state"])
    scaler = TargetScaler([_target(e) for e in body["targets"]], config.max_z)
    scaler.load_state_dict(body["scaler_state"])
    info = {"split": body.get("split"), "metrics": body.get("metrics", {}), "molmtl_version": body.get("molmtl_version"),
            "path": str(model_path(path))}
    return TrainedModel(strategy, scaler, config, info).eval()


@torch.no_grad()
def predict_dataset(model: TrainedModel, dataset, *, batch_size: int = 256,
                    device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions ``(n, T)`` (float64, registry units) of a model on a dataset
    (:class:`~molmtl.data.batching.MolDataset`; labels are NaN where it has none)."""
    model = model.to(device).eval()
    graph, geometry = model.needs_graph, model.needs_geometry
    ys, preds = [], []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = collate(items, graph=graph, geometry=geometry).to(device)
        preds.append(model(batch).cpu().numpy())
        ys.append(batch.y.cpu().numpy() if batch.y is not None else np.full_like(preds[-1], np.nan))
    T = len(model.targets)
    if not preds:
        return np.zeros((0, T)), np.zeros((0, T))
    return np.concatenate(ys), np.concatenate(preds)


def molecule_dataset(model: TrainedModel, molecules: Sequence[Molecule]) -> MolDataset:
    """The molecules as the model reads them (2D graphs and/or 3D positions, its element vocabulary)."""
    return MolDataset(list(molecules), model.targets, graph=model.needs_graph, geometry=model.needs_geometry,
                      elements=model.config.elements)


def predict_molecules(model: TrainedModel, molecules: Sequence[Molecule], *, batch_size: int = 256) -> np.ndarray:
    """``(n, T)`` predictions in the registry's units for molecules (3D models need positions)."""
    if not molecules:
        return np.zeros((0, len(model.targets)))
    return predict_dataset(model, molecule_dataset(model, molecules), batch_size=batch_size)[1]


def require_model_domain(molecule: Molecule, model: TrainedModel) -> None:
    """UnsupportedMoleculeError unless ``model`` can predict ``molecule``: only the elements it was
    trained on, neutral, closed shell (the models have no charge or spin input)."""
    elements = frozenset(model.config.elements)
    trained_on = ("QM9 molecules of H, C, N, O and F" if elements == QM9_ELEMENTS
                  else f"molecules of {symbols_text(elements)}")
    require_supported(molecule, elements=elements, method=f"the ML model (trained on neutral, closed-shell {trained_on})")


def predict_smiles(model: TrainedModel, smiles: Sequence[str], *, names: Sequence[str] | None = None,
                   batch_size: int = 256) -> tuple[np.ndarray, list[str | None]]:
    """Predict many SMILES at once (a CSV's worth); a molecule that cannot be predicted gets a
    reason instead of stopping the others.

    Returns:
        ``(values, errors)``: ``(N, T)`` predictions in the registry's units (NaN rows where
        ``errors[i]`` gives the one-sentence reason; None where the prediction is there).
        3D models embed each SMILES once, through :mod:`molmtl.data.geometries`' store.
    """
    names = list(smiles) if names is None else list(names)
    errors: list[str | None] = [None] * len(smiles)
    mols: dict[int, Molecule] = {}
    for i, (smi, name) in enumerate(zip(smiles, names)):
        try:
            mol = from_smiles(smi, embed=False, name=name)
            require_model_domain(mol, model)
            mols[i] = mol
        except MolmtlError as exc:
            errors[i] = str(exc)
    if model.needs_geometry and mols:
        rows = list(mols)
        embedded = embed_smiles([smiles[i] for i in rows], [names[i] for i in rows])
        for i, error in zip(rows, embedded.errors):
            errors[i] = error
        mols = {i: m for i, m in zip(rows, embedded.molecules) if m is not None}
        fallback = [m.name for m in mols.values() if FALLBACK_NOTE in m.warnings]
        if fallback:
            log.warning("%d of %d molecules got a fallback 3D geometry (ETKDG rejected them; expect larger errors "
                        "for them), e.g. %s", len(fallback), len(smiles), fallback[0])
    values = np.full((len(smiles), len(model.targets)), np.nan)
    if mols:
        rows = list(mols)
        values[rows] = predict_molecules(model, [mols[i] for i in rows], batch_size=batch_size)
    return values, errors


__all__ = ["TrainedModel", "build_strategy", "encoder_class", "save_model", "read_model_file", "load_model",
           "model_path", "file_sha256", "predict_dataset", "predict_molecules", "predict_smiles", "molecule_dataset",
           "require_model_domain", "FORMAT_VERSION"]
