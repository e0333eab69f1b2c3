"""Small QM9 samples shared by the model tests (``qm9`` comes from the root conftest)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molmtl.data.batching import MolDataset, collate


@pytest.fixture(scope="session")
def qm9_small(qm9):
    """40 molecules spread over QM9 (sizes 3..27 atoms)."""
    return qm9.subset(np.arange(0, len(qm9), len(qm9) // 40)[:40])


@pytest.fixture(scope="session")
def dataset8(qm9_small):
    return MolDataset(qm9_small.subset(np.arange(0, 40, 5)), graph=True, geometry=True)


@pytest.fixture()
def batch8(dataset8):
    return collate([dataset8[i] for i in range(len(dataset8))], graph=True, geometry=True)


@pytest.fixture(autouse=True)
def _seed():
    """Same initial weights in every test (the root conftest already limits torch to one thread)."""
    torch.manual_seed(0)
