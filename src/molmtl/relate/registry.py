"""The registry of task-relatedness measures (``molmtl relate``).

Each measure registers itself in the module that defines it::

    @RELATEDNESS.register("transfer")
    class TransferMeasure(Measure): ...

and is built by name with its options checked (``RELATEDNESS.build("tag", every=2)``); an
unknown name is one sentence listing those there are.
"""

from __future__ import annotations

from molmtl.registry import Registry

#: Relatedness measures: correlation, transfer, tag, gradient-cosine (one module each).
RELATEDNESS = Registry("relatedness measure", package="molmtl.relate")

__all__ = ["RELATEDNESS"]
