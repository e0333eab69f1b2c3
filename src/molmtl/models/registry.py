"""The encoder registry: ``ENCODERS.build("painn", hidden=64)``.

Encoders register themselves where they are defined (``@ENCODERS.register("painn")``); the
parameters a model's elements decide (``in_dim``, ``max_z``) are injected when a strategy is
built and are not user options.
"""

from __future__ import annotations

from molmtl.registry import Registry

ENCODERS: Registry = Registry("encoder", package="molmtl.models", injected=("in_dim", "edge_dim", "max_z"))

__all__ = ["ENCODERS"]
