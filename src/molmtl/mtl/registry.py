"""The strategy and weighting registries.

``STRATEGIES.build("soft", tasks, encoder_factory, head_factory, lam=1e-2)``;
``WEIGHTINGS.build("upgrad", n_tasks=3)``. Strategies register themselves in their modules
(``@STRATEGIES.register("soft")``), weightings in ``molmtl.mtl.balancers``.
"""

from __future__ import annotations

from molmtl.errors import InputError
from molmtl.registry import Registry


def _check_task_count(injected: dict) -> None:
    n = injected.get("n_tasks")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"n_tasks must be a positive integer, got {n!r}")


STRATEGIES: Registry = Registry("strategy", package="molmtl.mtl",
                                injected=("tasks", "encoder_factory", "head_factory"))
WEIGHTINGS: Registry = Registry("weighting", package="molmtl.mtl.balancers", injected=("n_tasks",),
                                check_injected=_check_task_count)

__all__ = ["STRATEGIES", "WEIGHTINGS"]
