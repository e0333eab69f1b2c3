"""Strategy names -> classes, for the CLI and configs (library users may build classes directly)."""

from __future__ import annotations

from collections.abc import Sequence

from molmtl.errors import InputError
from molmtl.mtl._options import check_options
from molmtl.mtl.base import EncoderFactory, HeadFactory, Strategy
from molmtl.mtl.clustered import ClusteredSharing
from molmtl.mtl.cross_stitch import CrossStitch
from molmtl.mtl.hard import HardSharing
from molmtl.mtl.mrn import MultilinearRelationship
from molmtl.mtl.single import SingleTask
from molmtl.mtl.soft import SoftSharing

STRATEGIES: dict[str, type[Strategy]] = {
    "single": SingleTask,
    "hard": HardSharing,
    "soft": SoftSharing,
    "cross-stitch": CrossStitch,
    "mrn": MultilinearRelationship,
    "clustered": ClusteredSharing,
}


def make_strategy(name: str, *, tasks: Sequence[str], encoder_factory: EncoderFactory,
                  head_factory: HeadFactory, **hp) -> Strategy:
    """Build the strategy called ``name`` over ``tasks``; ``hp`` are its keyword options.

    Example:
        ``make_strategy("soft", tasks=["U0", "homo"], encoder_factory=..., head_factory=..., lam=1e-2)``
    """
    key = name.strip().lower().replace("_", "-")
    if key not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}.")
    cls = STRATEGIES[key]
    check_options("strategy", key, cls, hp, ("tasks", "encoder_factory", "head_factory"))
    return cls(tasks, encoder_factory, head_factory, **hp)
