"""A tiny model trained through ``molmtl train`` (which calibrates it at the end), and synthetic
predictions and embeddings for the numerics."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.targets import get_target
from molmtl.uncertainty.data import PartOutputs

TINY = ["--encoder", "painn", "--hidden", "16", "--layers", "1", "--tasks", "U0,homo,mu", "--max-molecules", "300",
        "--batch-size", "32", "--epochs", "1", "--accelerator", "cpu", "--no-progress"]


@pytest.fixture(scope="session")
def tiny_args():
    """``molmtl train``'s options for the tiny model (without --out)."""
    return list(TINY)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A run folder's model.pt: 300 training, 60 validation and 60 test molecules of QM9."""
    from molmtl.cli import main

    out = tmp_path_factory.mktemp("tiny") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out / "model.pt"


def heteroscedastic(n: int, seed: int, *, dim: int = 8, spread: float = 1.0) -> PartOutputs:
    """Embeddings from N(0, spread^2 I) and two properties whose errors are Gaussian with a
    standard deviation that grows with the distance from the origin (where the training data are):
    0.01 * exp(|e|^2 / dim) eV and 0.1 * (1 + |e_0|) D."""
    rng = np.random.default_rng(seed)
    emb = (spread * rng.normal(size=(n, dim))).astype(np.float32)
    sigma = np.stack([0.01 * np.exp((emb**2).sum(1) / dim), 0.1 * (1 + np.abs(emb[:, 0]))], axis=1)
    labels = rng.normal(size=(n, 2))
    return PartOutputs(labels, labels + sigma * rng.normal(size=(n, 2)), emb, np.arange(n))


@pytest.fixture(scope="session")
def synthetic():
    """Reference (training) molecules near the origin; validation and test spread wider."""
    return {"reference": heteroscedastic(3000, 0, spread=1.0), "val": heteroscedastic(3000, 1, spread=1.3),
            "test": heteroscedastic(3000, 2, spread=1.3)}


@pytest.fixture(scope="session")
def targets():
    return [get_target("U0"), get_target("mu")]
