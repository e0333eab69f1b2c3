"""Small QM9 samples shared by the model tests (the QM9 cache is prepared on first use)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molmtl.data.batching import MolDataset, collate


@pytest.fixture(scope="session")
def qm9():
    from molmtl.data.qm9 import load_qm9

    return load_qm9()


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
def _seed_and_one_thread():
    """Seed, and one CPU thread: these tensors are tiny, and with the cores shared, OpenMP threads
    waiting on each other made small matmuls ~50x slower than one thread."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
