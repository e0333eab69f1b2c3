"""One model file (``model.pt``): everything needed to rebuild and use a trained model.

The file is a plain dict saved with ``torch.save`` (tensors and builtins only, so it loads with
``weights_only=True``)::

    {"format": "molmtl-model", "format_version": 1, "molmtl_version": "0.1.0",
     "config": TrainConfig.to_dict(), "targets": [{"key", "unit"}, ...],
     "strategy_state": {...}, "scaler_state": {...},
     "split": {"id", "name", "sizes"}, "metrics": {...}}

:func:`load_model` rebuilds the strategy from the stored config (registries) and loads the
weights: no training config file or data is needed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from molmtl import __version__
from molmtl.data.cache import atomic_path
from molmtl.errors import InputError, NotFoundError
from molmtl.targets import Target, custom_target, get_target
from molmtl.training.config import TrainConfig, build_strategy, encoder_class

log = logging.getLogger(__name__)

FORMAT = "molmtl-model"
FORMAT_VERSION = 1


class TrainedModel(nn.Module):
    """A strategy and its target scaler: molecules in, properties in the registry's units out.

    Attributes:
        strategy: the trained :class:`molmtl.mtl.base.Strategy`.
        scaler: its :class:`molmtl.models.normalize.TargetScaler`.
        config: the :class:`TrainConfig` it was trained with.
        targets: the predicted targets, in column order.
        info: split and metrics stored with the model.
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


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The raw dict of a model file (checked to be one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
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


def _target(entry: dict) -> Target:
    try:
        return get_target(entry["key"])
    except KeyError:
        return custom_target(entry["key"], entry.get("unit", ""))


def load_model(path: str | Path) -> TrainedModel:
    """Rebuild a :class:`TrainedModel` from a model file (or a run folder holding ``model.pt``)."""
    from molmtl.models.normalize import TargetScaler

    body = read_model_file(path)
    config = TrainConfig.from_dict(body["config"])
    strategy = build_strategy(config)
    strategy.load_state_dict(body["strategy_state"])
    scaler = TargetScaler([_target(e) for e in body["targets"]], config.max_z)
    scaler.load_state_dict(body["scaler_state"])
    info = {"split": body.get("split"), "metrics": body.get("metrics", {}), "molmtl_version": body.get("molmtl_version")}
    return TrainedModel(strategy, scaler, config, info).eval()


def start_from(path: str | Path, strategy, config: TrainConfig, split=None, smiles=None):
    """Fine-tuning: copy the weights of the model file ``path`` into ``strategy`` (built from
    ``config``) and return that model's target scaler, which the run keeps so that the heads'
    outputs mean what they meant.

    InputError if the model's architecture (:meth:`TrainConfig.architecture`) differs from
    ``config``'s. Given the run's ``split`` and its source's ``smiles`` (and the same source as the
    model's), a warning if some of the run's validation or test molecules were in the model's
    training part: their errors would flatter it.
    """
    init = load_model(path)
    mine, theirs = config.architecture(), init.config.architecture()
    if mine != theirs:
        name = next(k for k in mine if mine[k] != theirs[k])
        if name == "elements":
            extra = sorted(set(mine["elements"]) - set(theirs["elements"]))
            raise InputError(f"the data hold elements {extra} (atomic numbers) that {path} has no embedding for, so it "
                             "cannot be fine-tuned on them")
        raise InputError(f"{path} has {name} {theirs[name]!r} and this run {mine[name]!r}; a run started from a model "
                         "keeps its architecture")
    strategy.load_state_dict(init.strategy.state_dict())
    if split is not None and smiles is not None and init.config.data == config.data:
        _warn_on_seen_molecules(path, init.config, split, smiles)
    log.info("starting from the weights of %s", path)
    return init.scaler.train()  # load_model left it in eval mode


def _warn_on_seen_molecules(path, init_config: TrainConfig, split, smiles) -> None:
    import numpy as np

    from molmtl.training.config import run_split

    try:
        theirs = run_split(init_config, len(smiles), smiles)
    except InputError as exc:  # e.g. its split file is gone
        log.warning("cannot tell which molecules %s was trained on (%s)", path, exc)
        return
    held_out = np.concatenate([np.asarray(split.val), np.asarray(split.test)])
    seen = np.intersect1d(np.asarray(theirs.train), held_out)
    if len(seen):
        log.warning("%d of this run's %d validation and test molecules were in the training part of %s: their "
                    "errors will look better than they are (keep its split: leave out --split)", len(seen),
                    len(held_out), path)


__all__ = ["TrainedModel", "save_model", "load_model", "read_model_file", "start_from", "FORMAT_VERSION"]
