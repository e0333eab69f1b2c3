"""Tiny, fast training set-ups: a 3-task PaiNN of width 16 on a few dozen QM9 molecules."""

import pytest

from molmtl.training.config import TrainConfig

TASKS = ("U0", "homo", "mu")
TINY_PAINN = {"hidden": 16, "num_layers": 1, "n_rbf": 8}


def tiny_config(**changes) -> TrainConfig:
    base = dict(tasks=TASKS, encoder="painn", encoder_hp=TINY_PAINN, strategy="hard", epochs=1, batch_size=16,
                max_molecules=32, accelerator="cpu", devices=1, early_stopping=None, seed=0)
    return TrainConfig(**{**base, **changes})


@pytest.fixture
def tiny():
    return tiny_config
