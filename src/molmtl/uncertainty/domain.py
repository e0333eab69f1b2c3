"""The latent part of a domain verdict: is a molecule near what the model was trained on?

A molecule is compared with the model's own test part (the calibration keeps its latent
distance percentiles and its sigma median and 99th percentile per property):

* ``outside``: its latent distance is above the test part's 99th percentile (fewer than 1 in
  100 test molecules are that far from the training set);
* ``near``: its distance is above the 90th percentile, or a property's sigma is above that
  property's 99th percentile on the test part (and at least twice its median);
* ``in``: neither.

The reasons say which, one sentence each. The elements, size, charge and geometry checks are
the caller's (``molmtl.methods``); this knows only the model's representation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from molmtl.uncertainty.calibration import Calibration

VERDICTS = ("in", "near", "outside")
#: The test part's distance percentiles above which a molecule is ``near`` / ``outside``.
NEAR_PERCENTILE, OUTSIDE_PERCENTILE = 90, 99
#: A sigma counts as high above the test part's 99th percentile and at least this many times its
#: median (a property whose sigma hardly varies, such as rotational constants computed from the
#: geometry, is not flagged for a sliver above its percentile).
MIN_SIGMA_RATIO = 2.0
#: The properties a verdict names one by one (the largest sigma ratios first); the rest are counted.
MAX_NAMED = 3


def latent_verdict(distance: float, sigma: Sequence[float] | np.ndarray, calibration: Calibration) -> tuple[str, list[str]]:
    """``(verdict, reasons)`` for one molecule's latent ``distance`` (:meth:`Calibration.distance`)
    and ``sigma (T,)`` (:meth:`Calibration.sigma`, registry units): ``in``, ``near`` or
    ``outside`` (see the module docstring), each reason one sentence."""
    pct = calibration.distance_percentiles
    reasons: list[str] = []
    verdict = "in"
    d = float(distance)
    if not np.isfinite(d):
        return "outside", ["it has no usable embedding in the model's representation"]
    if OUTSIDE_PERCENTILE in pct and d > pct[OUTSIDE_PERCENTILE]:
        verdict = "outside"
        reasons.append(f"its distance to the training set in the model's representation ({d:.2f}) is above the "
                       f"{OUTSIDE_PERCENTILE}th percentile of the test split's ({pct[OUTSIDE_PERCENTILE]:.2f})")
    elif NEAR_PERCENTILE in pct and d > pct[NEAR_PERCENTILE]:
        verdict = "near"
        reasons.append(f"its distance to the training set in the model's representation ({d:.2f}) is above the "
                       f"{NEAR_PERCENTILE}th percentile of the test split's ({pct[NEAR_PERCENTILE]:.2f})")
    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1)
    if calibration.sigma_p99 is not None and calibration.median_sigma is not None and len(sigma) == len(calibration.keys):
        ratio = sigma / calibration.median_sigma
        high = np.flatnonzero(np.isfinite(sigma) & (sigma > calibration.sigma_p99) & (ratio >= MIN_SIGMA_RATIO))
        high = high[np.argsort(-ratio[high], kind="stable")]
        for j in high[:MAX_NAMED]:
            reasons.append(f"its sigma for {calibration.keys[j]} is {ratio[j]:.1f}x the test split's median, above "
                           "the test split's 99th percentile")
        if len(high) > MAX_NAMED:
            reasons.append(f"its sigma is above the test split's 99th percentile for {len(high) - MAX_NAMED} more "
                           "properties")
        if len(high) and verdict == "in":
            verdict = "near"
    return verdict, reasons


__all__ = ["latent_verdict", "VERDICTS", "NEAR_PERCENTILE", "OUTSIDE_PERCENTILE"]
