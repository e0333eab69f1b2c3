"""How long a calculation will take, from timings measured on this kind of machine.

``typical.json`` (written by ``benchmarks/methods.py``; shipped with the package) holds, per
method and stage, measured ``(size, seconds)`` points: the basis-set size (number of atomic
orbitals) for DFT stages, the atom count for xTB's. An estimate interpolates those points in
log-log space (a power law between neighbours) and extrapolates with the outer segments' slopes.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

TYPICAL = Path(__file__).with_name("typical.json")


@cache
def typical() -> dict:
    """The shipped methods benchmark summary (empty sections where it has none)."""
    if not TYPICAL.is_file():
        return {"methods": {}, "timings": {}}
    return json.loads(TYPICAL.read_text())


def power_law(points: list[list[float]], size: float) -> float | None:
    """Seconds at ``size`` from measured ``[size, seconds]`` points (log-log interpolation)."""
    pts = sorted((float(s), float(t)) for s, t in points if s > 0 and t > 0)
    if not pts:
        return None
    if len(pts) == 1:
        s0, t0 = pts[0]
        return t0 * (size / s0) ** 3  # one point: the cubic scaling of an SCF step
    if size <= pts[0][0]:
        (s0, t0), (s1, t1) = pts[0], pts[1]
    elif size >= pts[-1][0]:
        (s0, t0), (s1, t1) = pts[-2], pts[-1]
    else:
        k = next(i for i in range(1, len(pts)) if pts[i][0] >= size)
        (s0, t0), (s1, t1) = pts[k - 1], pts[k]
    if s1 == s0:
        return max(t0, t1)
    slope = math.log(t1 / t0) / math.log(s1 / s0)
    return t0 * (size / s0) ** slope


def stage_seconds(method: str, stage: str, size: float) -> float | None:
    """Estimated seconds of ``stage`` of ``method`` (``dft-cpu``, ``dft-gpu``, ``xtb``) at ``size``."""
    points = typical().get("timings", {}).get(method, {}).get(stage)
    return power_law(points, size) if points else None


__all__ = ["typical", "power_law", "stage_seconds", "TYPICAL"]
