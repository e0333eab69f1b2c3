"""Shared fixtures: QM9 is loaded once per session (the cache is built on first use, ~20 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def qm9():
    from molmtl.data.qm9 import load_qm9

    return load_qm9()


def pytest_configure(config):
    """One torch thread: on 2 shared cores, OpenMP's second thread made small matmuls ~60x slower."""
    import torch

    torch.set_num_threads(1)
