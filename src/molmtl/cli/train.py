"""``molmtl train`` / ``molmtl evaluate``: placeholder until training lands (issue 3)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` to ``app`` (none yet)."""
