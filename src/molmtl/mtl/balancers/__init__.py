"""Balancers: how per-task losses become parameter gradients.

``make_balancer(name, n_tasks=T, **hp)`` with names ``equal``, ``uw``, ``gradnorm``, ``dwa``,
``famo`` (loss weighting) and ``upgrad``, ``mgda``, ``pcgrad``, ``cagrad``, ``nashmtl``,
``imtlg``, ``alignedmtl`` (torchjd Jacobian aggregation).
"""

from __future__ import annotations

from molmtl.errors import InputError
from molmtl.mtl._options import check_options
from molmtl.mtl.balancers.gradnorm import GradNorm
from molmtl.mtl.balancers.jacobian import JACOBIAN_BALANCERS, JacobianBalancer
from molmtl.mtl.balancers.weighting import FAMO, DynamicWeightAverage, EqualWeighting, UncertaintyWeighting
from molmtl.mtl.base import Balancer

WEIGHTING_BALANCERS: dict[str, type[Balancer]] = {
    "equal": EqualWeighting,
    "uw": UncertaintyWeighting,
    "gradnorm": GradNorm,
    "dwa": DynamicWeightAverage,
    "famo": FAMO,
}
BALANCERS: tuple[str, ...] = (*WEIGHTING_BALANCERS, *JACOBIAN_BALANCERS)


def make_balancer(name: str, *, n_tasks: int, **hp) -> Balancer:
    """Build the balancer called ``name`` for ``n_tasks`` tasks; ``hp`` are its keyword options."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    if not isinstance(n_tasks, int) or n_tasks < 1:
        raise InputError(f"n_tasks must be a positive integer, got {n_tasks!r}.")
    if key in WEIGHTING_BALANCERS:
        cls = WEIGHTING_BALANCERS[key]
        check_options("balancer", key, cls, hp, ("n_tasks",))
        return cls(n_tasks, **hp)
    if key in JACOBIAN_BALANCERS:
        make = JACOBIAN_BALANCERS[key]
        check_options("balancer", key, make.aggregator, hp, ("n_tasks",), extra=("parallel_chunk_size", "jacobian"))
        return make(n_tasks, **hp)
    raise InputError(f"unknown balancer {name!r}; choose one of: {', '.join(BALANCERS)}.")


__all__ = [
    "BALANCERS", "FAMO", "DynamicWeightAverage", "EqualWeighting", "GradNorm", "JacobianBalancer",
    "UncertaintyWeighting", "make_balancer",
]
