"""Shared fixtures: QM9 is loaded once per session (the cache is built on first use, ~20 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def qm9():
    from molmtl.data.qm9 import load_qm9

    return load_qm9()
