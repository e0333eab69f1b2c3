"""Fixtures for the multi-task tests; the toy parts live in ``mtl_toys.py``."""

from __future__ import annotations

import pytest
from mtl_toys import toy_batch


@pytest.fixture
def batch():
    return toy_batch()
