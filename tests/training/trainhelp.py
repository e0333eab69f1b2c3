"""Tiny, fast training set-ups: a 3-task PaiNN of width 16 on a few dozen QM9 molecules."""

import pytest

from molmtl.config import TrainConfig

TASKS = ("U0", "homo", "mu")
TINY_PAINN = {"hidden": 16, "num_layers": 1, "n_rbf": 8}


def monitored_loss(ckpt: dict) -> float:
    """The validation loss that chose a checkpoint (its ModelCheckpoint's ``best_model_score``)."""
    scores = [float(v["best_model_score"]) for k, v in ckpt["callbacks"].items()
              if k.startswith("ModelCheckpoint") and v.get("best_model_score") is not None]
    assert len(scores) == 1, scores
    return scores[0]


def tiny_config(**changes) -> TrainConfig:
    base = dict(tasks=TASKS, encoder="painn", encoder_hp=TINY_PAINN, strategy="hard", epochs=1, batch_size=16,
                max_molecules=32, accelerator="cpu", devices=1, early_stopping=None, seed=0)
    return TrainConfig(**{**base, **changes})


@pytest.fixture
def tiny():
    return tiny_config
