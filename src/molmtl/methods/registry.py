"""The method registry: ``METHODS.build("xtb", optimize=False, store=store)``.

Every method registers itself in its module (``@METHODS.register("xtb")``). The results store,
the QM9 dataset and ``force`` (recompute what the store holds) are injected by the caller (the
CLI, the web server), not user options.
"""

from __future__ import annotations

from molmtl.registry import Registry

METHODS: Registry = Registry("method", package="molmtl.methods", injected=("store", "qm9", "force"))

__all__ = ["METHODS"]
