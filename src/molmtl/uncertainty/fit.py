r"""Fits on validation residuals: a log-linear sigma by Gaussian likelihood, then a conformal scale.

Sigma is log-linear in a molecule's features :math:`f` (a constant, the log latent distance,
the log local residual, ...): :math:`\log\sigma = c^\top f`. Its Gaussian negative
log-likelihood on residuals :math:`r_i`,

.. math::
    L(c) = \sum_i c^\top f_i + \tfrac12 r_i^2 e^{-2 c^\top f_i},

is convex in :math:`c` (the Hessian :math:`\sum_i 2 r_i^2 e^{-2\eta_i} f_i f_i^\top` is
positive semi-definite), so Newton's method with a backtracking line search finds its minimum
in a few steps. The scale factor then makes the 90 % interval :math:`\pm 1.645\,\sigma` hold 90
% of the validation residuals (split-conformal scaling: Vovk et al. 2005; Kuleshov et al.
2018), and the interval factor of every other level is the validation quantile of
:math:`|r| / \sigma`.
"""

from __future__ import annotations

import numpy as np

from molmtl.uncertainty.metrics import normal_quantile

#: The interval levels a calibration gives factors for; 0.9 sets the scale.
LEVELS = (0.5, 0.68, 0.9, 0.95, 0.99)
SCALE_LEVEL = 0.9


def fit_log_sigma(features: np.ndarray, residual: np.ndarray, *, nonnegative: tuple[int, ...] = (),
                  ridge: float = 1e-6, steps: int = 50) -> np.ndarray:
    """Coefficients ``c (P,)`` of ``log sigma = features @ c`` that minimize the Gaussian NLL of
    ``residual`` (rows with a non-finite value are left out); ``ridge`` keeps the Newton step
    defined when a feature is constant. A column in ``nonnegative`` whose coefficient comes out
    negative is dropped (its coefficient 0) and the rest refitted: sigma must not fall as the
    latent distance grows, even where the validation molecules, all near the training set, would
    have it so."""
    c = _newton(features, residual, ridge=ridge, steps=steps)
    negative = [i for i in nonnegative if c[i] < 0]
    if negative:
        keep = [i for i in range(features.shape[1]) if i not in negative]
        c = np.zeros(features.shape[1])
        c[keep] = _newton(features[:, keep], residual, ridge=ridge, steps=steps)
    return c


def _newton(features: np.ndarray, residual: np.ndarray, *, ridge: float, steps: int) -> np.ndarray:
    ok = np.isfinite(residual) & np.isfinite(features).all(axis=1)
    f, r2 = features[ok].astype(np.float64), residual[ok].astype(np.float64) ** 2
    r2 = np.maximum(r2, 1e-12 * max(float(np.mean(r2)), 1e-300))  # an exact 0 would pull sigma to 0
    c = np.zeros(f.shape[1])
    c[0] = 0.5 * np.log(np.mean(r2))  # features[:, 0] is the constant: start from the homoscedastic fit

    def loss(c):
        eta = f @ c
        with np.errstate(over="ignore"):  # a line-search trial far off: an infinite loss, refused
            return float(np.mean(eta + 0.5 * r2 * np.exp(-2 * eta))) + 0.5 * ridge * float(c[1:] @ c[1:])

    current = loss(c)
    for _ in range(steps):
        eta = f @ c
        w = r2 * np.exp(-2 * eta)
        grad = f.T @ (1 - w) / len(f)
        grad[1:] += ridge * c[1:]
        hess = (f.T * (2 * w)) @ f / len(f) + ridge * np.eye(len(c))
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-6:
            trial = loss(c - t * step)
            if trial <= current:
                break
            t /= 2
        if t <= 1e-6:
            break
        c, previous, current = c - t * step, current, trial
        if previous - current < 1e-10:
            break
    return c


def interval_factors(residual: np.ndarray, sigma: np.ndarray, levels=LEVELS) -> tuple[float, dict[float, float]]:
    """``(scale, {level: factor})``: ``scale * sigma * 1.645`` is the validation's 90 % quantile of
    ``|residual|`` per unit sigma, and ``factor * (scale * sigma)`` covers ``level`` of the
    validation residuals (``factor(0.9) = 1.645``)."""
    ok = np.isfinite(residual) & np.isfinite(sigma)
    z = np.abs(residual[ok]) / sigma[ok]
    z90 = float(normal_quantile((1 + SCALE_LEVEL) / 2))  # the central interval: 1.645
    scale = float(np.quantile(z, SCALE_LEVEL, method="higher")) / z90
    return scale, {float(p): float(np.quantile(z, p, method="higher")) / scale for p in levels}


__all__ = ["fit_log_sigma", "interval_factors", "LEVELS", "SCALE_LEVEL"]
