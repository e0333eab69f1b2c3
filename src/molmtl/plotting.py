"""Figures: matplotlib without a display, written atomically as PNG."""

from __future__ import annotations

from pathlib import Path

from molmtl.data.cache import atomic_path


def pyplot():
    """matplotlib's ``pyplot`` on the Agg backend (files only, no display)."""
    import matplotlib  # lazy: about a second to import, and most commands draw nothing

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: after the backend is chosen

    return plt


def save_png(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` as PNG (atomically) and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    pyplot().close(fig)
    return path


__all__ = ["pyplot", "save_png"]
