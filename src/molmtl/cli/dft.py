"""``molmtl dft ...``: placeholder until the DFT engine lands (issue 4)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``dft`` command group to ``app`` (no commands yet)."""
