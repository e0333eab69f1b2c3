"""The learning-rate schedule: one small pure function."""

from __future__ import annotations

import math


def lr_factor(step: int, *, total_steps: int, warmup_steps: int, min_ratio: float) -> float:
    r"""Learning-rate multiplier: linear warm-up, then cosine decay to ``min_ratio``.

    .. math::
        f(s) = \begin{cases} (s+1)/w & s < w \\
        r + (1-r)\,\tfrac12\left(1+\cos\pi\,\tfrac{s-w}{S-w}\right) & s \ge w \end{cases}

    Args:
        step: optimizer steps taken so far (0-based).
        total_steps: S, steps of the whole run.
        warmup_steps: w, steps of linear warm-up (warm-up avoids large early Adam steps while its
            second-moment estimate is still noisy).
        min_ratio: r, the final multiplier.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


__all__ = ["lr_factor"]
