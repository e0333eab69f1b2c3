"""Fine-tuning: a run that starts from a model file's weights and target normalization."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from molmtl.config import TrainConfig
from molmtl.errors import InputError
from molmtl.inference import load_model

log = logging.getLogger(__name__)


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
    try:
        theirs = init_config.split_for(len(smiles), smiles)
    except InputError as exc:  # e.g. its split file is gone
        log.warning("cannot tell which molecules %s was trained on (%s)", path, exc)
        return
    held_out = np.concatenate([np.asarray(split.val), np.asarray(split.test)])
    seen = np.intersect1d(np.asarray(theirs.train), held_out)
    if len(seen):
        log.warning("%d of this run's %d validation and test molecules were in the training part of %s: their "
                    "errors will look better than they are (keep its split: leave out --split)", len(seen),
                    len(held_out), path)


__all__ = ["start_from"]
