r"""How good a sigma is: interval coverage, error ranking, miscalibration area, Gaussian NLL.

For residuals :math:`r_i = \hat y_i - y_i` and sigmas :math:`\sigma_i` of one property:

* coverage at level :math:`p`: the fraction with :math:`|r_i| \le z_p \sigma_i`, where
  :math:`z_p` is the calibration's interval factor (1.645 for 90 %);
* Spearman's :math:`\rho(|r|, \sigma)`: does a larger sigma mean a larger error;
* miscalibration area (Tran et al. 2020, "Methods for comparing uncertainty quantifications for
  material property predictions", Mach. Learn.: Sci. Technol. 1, 025006): the mean over levels
  :math:`p \in (0, 1)` of :math:`|\mathrm{observed}(p) - p|` for central Gaussian intervals
  :math:`\pm \Phi^{-1}((1 + p)/2)\,\sigma` (0 = calibrated at every level);
* Gaussian negative log-likelihood, mean over molecules,
  :math:`\tfrac12 \log(2\pi\sigma_i^2) + r_i^2 / (2\sigma_i^2)` (in nats; depends on the unit);
* the MAE of the 10 % of molecules with the largest sigma against that of the other 90 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

#: The levels of the miscalibration area's integral (a midpoint rule).
_LEVELS = (np.arange(100) + 0.5) / 100


def normal_quantile(p) -> np.ndarray:
    """:math:`\\Phi^{-1}(p)`, the standard normal's quantile function (torch's erfinv)."""
    p = torch.as_tensor(np.asarray(p, dtype=np.float64))
    return (math.sqrt(2.0) * torch.special.erfinv(2.0 * p - 1.0)).numpy()


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties sharing their mean rank."""
    x = np.asarray(x)
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x), dtype=np.float64)
    r[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    if (counts > 1).any():
        sums = np.bincount(inverse, weights=r)
        r = sums[inverse] / counts[inverse]
    return r


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of ``a`` and ``b`` (NaN with fewer than 3 pairs or a constant)."""
    if len(a) < 3:
        return float("nan")
    ra, rb = ranks(a), ranks(b)
    sa, sb = ra.std(), rb.std()
    if sa == 0 or sb == 0:
        return float("nan")
    return float(((ra - ra.mean()) * (rb - rb.mean())).mean() / (sa * sb))


def coverage(residual: np.ndarray, half_width: np.ndarray) -> float:
    """Fraction of ``|residual| <= half_width``."""
    return float(np.mean(np.abs(residual) <= half_width))


def miscalibration_area(residual: np.ndarray, sigma: np.ndarray) -> float:
    """Mean over levels p of ``|fraction within +-Phi^-1((1+p)/2) sigma - p|`` (Gaussian intervals)."""
    z = np.abs(residual) / sigma
    zp = normal_quantile((1.0 + _LEVELS) / 2.0)
    observed = (z[:, None] <= zp[None, :]).mean(axis=0)
    return float(np.mean(np.abs(observed - _LEVELS)))


def gaussian_nll(residual: np.ndarray, sigma: np.ndarray) -> float:
    """Mean Gaussian negative log-likelihood (nats) of ``residual`` under ``N(0, sigma^2)``."""
    return float(np.mean(0.5 * np.log(2 * np.pi * sigma**2) + residual**2 / (2 * sigma**2)))


def top_fraction_mae(residual: np.ndarray, sigma: np.ndarray, fraction: float = 0.1) -> tuple[float, float]:
    """``(MAE of the molecules with the largest fraction of sigmas, MAE of the others)``."""
    n_top = max(1, int(round(fraction * len(sigma))))
    order = np.argsort(-sigma, kind="stable")
    err = np.abs(residual[order])
    return float(err[:n_top].mean()), float(err[n_top:].mean()) if n_top < len(err) else float("nan")


def property_metrics(residual: np.ndarray, sigma: np.ndarray, factors: dict[float, float]) -> dict:
    """Every metric of one property on the molecules with a finite residual: ``n``, ``coverage``
    ({level: fraction} for the half widths ``factors[level] * sigma``), ``within_1_sigma`` (the
    fraction within one sigma: 68 % for Gaussian errors), ``spearman``,
    ``miscalibration_area``, ``nll``, ``mae_top10``, ``mae_rest`` and their ``ratio``, the
    ``mae`` and the median sigma (registry units)."""
    ok = np.isfinite(residual) & np.isfinite(sigma)
    r, s = residual[ok], sigma[ok]
    top, rest = top_fraction_mae(r, s)
    return {"n": int(ok.sum()), "coverage": {str(level): coverage(r, f * s) for level, f in factors.items()},
            "within_1_sigma": coverage(r, s),
            "spearman": spearman(np.abs(r), s), "miscalibration_area": miscalibration_area(r, s),
            "nll": gaussian_nll(r, s), "mae": float(np.abs(r).mean()), "median_sigma": float(np.median(s)),
            "mae_top10": top, "mae_rest": rest, "ratio": top / rest if rest > 0 else float("nan")}


def table(keys: Sequence[str], residuals: np.ndarray, sigmas: np.ndarray, factors: dict[float, np.ndarray]) -> list[dict]:
    """:func:`property_metrics` of every column, with its ``key``; ``factors``: level -> ``(T,)``."""
    return [{"key": k, **property_metrics(residuals[:, j], sigmas[:, j], {p: float(f[j]) for p, f in factors.items()})}
            for j, k in enumerate(keys)]


__all__ = ["normal_quantile", "ranks", "spearman", "coverage", "miscalibration_area", "gaussian_nll",
           "top_fraction_mae", "property_metrics", "table"]
