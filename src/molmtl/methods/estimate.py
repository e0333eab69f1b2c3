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


#: Atomic orbitals per element in QM9's basis, 6-31G(2df,p) with Gaussian's Cartesian 6D/7F
#: (H: 2 s + 1 p; C, N, O, F: 3 s, 2 p, 2 d, 1 f); tests/methods check them against PySCF. They
#: give a DFT estimate without importing PySCF (half a second), e.g. for predict's suggestion.
QM9_BASIS_FUNCTIONS = {1: 5, 6: 31, 7: 31, 8: 31, 9: 31}
#: Optimization steps assumed for an estimate: from an RDKit geometry, and from a B3LYP one (QM9's).
STEPS_FROM_EMBEDDING, STEPS_FROM_B3LYP = 8, 2


def qm9_basis_size(atomic_numbers) -> int | None:
    """Atomic orbitals of a molecule in QM9's basis; None if an element has none there."""
    try:
        return sum(QM9_BASIS_FUNCTIONS[int(z)] for z in atomic_numbers)
    except KeyError:
        return None


def dft_seconds(n_basis: int, *, optimize: bool = True, from_b3lyp: bool = False, polarizability: bool = True,
                thermo: bool = True, device: str = "cpu") -> float:
    """Estimated wall time (s) of a DFT calculation at QM9's level with ``n_basis`` atomic
    orbitals, from the stage timings measured on this kind of machine (``typical.json``; 2 CPU
    cores, or one GPU): an SCF, optimization steps (each about two SCFs where unmeasured), the
    polarizability and the Hessian."""
    kind = "dft-gpu" if device == "gpu" else "dft-cpu"

    def stage(name: str) -> float:
        t = stage_seconds(kind, name, n_basis)
        return 0.0 if t is None else t

    total = stage("scf")
    if optimize:
        steps = STEPS_FROM_B3LYP if from_b3lyp else STEPS_FROM_EMBEDDING
        total += steps * (stage("optimization_step") or 2 * stage("scf"))
    if polarizability:
        total += stage("polarizability")
    if thermo:
        total += stage("hessian")
    return total


__all__ = ["typical", "power_law", "stage_seconds", "TYPICAL", "QM9_BASIS_FUNCTIONS", "qm9_basis_size",
           "dft_seconds", "STEPS_FROM_EMBEDDING", "STEPS_FROM_B3LYP"]
