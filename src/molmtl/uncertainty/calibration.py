r"""A fitted uncertainty model: a sigma per molecule and property, from the molecule's embedding.

A :class:`Calibration` maps a molecule's embedding :math:`e` (the model's masked mean of its
shared atom features) to features of the molecule, and those to one sigma per property
(registry units):

* the latent distance :math:`d(e)`: the mean Euclidean distance to the ``k_distance`` nearest
  molecules of a reference set (a subsample of the training part), in a whitened PCA projection
  of the embedding, divided by the validation part's median;
* the local residual :math:`\ell_t(e)`: the mean :math:`|r_t| / \overline{|r_t|}` of the
  ``k_local`` nearest validation molecules (their residuals, each property scaled by its mean
  absolute residual); a validation molecule's own residual is never among its neighbours' when
  the calibration is fitted (leave-one-out);
* the network scale :math:`g_t(e)`: the log error scale a small network, cross-fitted on the
  validation residuals, predicts (:mod:`molmtl.uncertainty.network`);

and, per property :math:`t`, :math:`\sigma_t = s_t \exp(c_t^\top f)` with :math:`f = (1, \log d)`
(method ``latent``), :math:`(1, \log d, \log \ell_t)` (``local``) or :math:`(1, \log d, g_t)`
(``mlp``), :math:`c_t` fitted by Gaussian likelihood (the distance's coefficient kept >= 0) and
the scale :math:`s_t` set so that :math:`\pm 1.645\,\sigma_t` holds 90 % of the validation
residuals (:mod:`molmtl.uncertainty.fit`). Beyond the validation molecules' distances (their
99th percentile) the local residuals and the network have nothing to go on, and sigma is at
least what the ``latent`` method gives there, which grows with the distance.

Only numpy and torch (the brute-force neighbour search) are used here: this is the part a
prediction runs. :meth:`Calibration.to_dict` is made of tensors, lists, strings and floats, so it
lives in a model file that loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from molmtl.errors import InputError
from molmtl.uncertainty.knn import knn
from molmtl.uncertainty.network import scale_network

FORMAT = "molmtl-uncertainty"
FORMAT_VERSION = 1
#: The features each method's log-sigma is linear in (besides the constant).
METHOD_FEATURES = {"latent": ("distance",), "local": ("distance", "local"), "mlp": ("distance", "mlp")}
#: Percentiles of the test part's latent distance that a calibration keeps (for a domain verdict).
PERCENTILES = (50, 90, 99)


@dataclass
class Calibration:
    """Sigma per molecule and property from a molecule's embedding (see the module docstring).

    Attributes:
        method: ``latent``, ``local`` or ``mlp``.
        keys, units: the model's targets and their registry units, in column order.
        center: ``(E,)`` the embedding mean; components: ``(E, D)`` the whitened PCA projection.
        reference: ``(n_ref, D)`` float16, training molecules in the projection.
        k_distance: neighbours of the latent distance; distance_scale: the validation part's
            median raw distance (so :meth:`distance` is 1 for a typical validation molecule).
        local_points: ``(n_val, D)`` float16 validation molecules (``local`` only; else None);
            local_residuals: ``(n_val, T)`` float16, their ``|r_t| / residual_scale_t``;
            residual_scale: ``(T,)`` mean absolute validation residual (registry units); k_local.
        network: the cross-fitted error-scale networks' weights (``mlp``; else None).
        coef: ``(T, P)`` log-sigma coefficients over ``(1, *features)``; scale: ``(T,)``.
        distance_limit: the validation part's 99th percentile of the latent distance; farther
            out, where the local residuals and the network have seen nothing, sigma is at least
            the ``latent`` method's: ``exp(latent_coef[:, 0] + latent_coef[:, 1] log d)``
            (latent_coef ``(T, 2)``, its scale included; None for ``latent`` itself).
        factors: interval level -> ``(T,)`` half width in sigmas that covered that fraction of
            the validation residuals (``factors[0.9]`` = 1.645 by construction).
        distance_percentiles: percentile (50, 90, 99) -> the test part's latent distance there.
        median_sigma, sigma_p99: ``(T,)`` the test part's median and 99th percentile of sigma.
        info: provenance (geometry, part sizes, model digest).
    """

    method: str
    keys: tuple[str, ...]
    units: tuple[str, ...]
    center: np.ndarray
    components: np.ndarray
    reference: np.ndarray
    k_distance: int
    distance_scale: float
    coef: np.ndarray
    scale: np.ndarray
    factors: dict[float, np.ndarray]
    local_points: np.ndarray | None = None
    local_residuals: np.ndarray | None = None
    residual_scale: np.ndarray | None = None
    k_local: int = 32
    network: dict[str, np.ndarray] | None = None
    latent_coef: np.ndarray | None = None
    distance_limit: float = float("inf")
    distance_percentiles: dict[int, float] = field(default_factory=dict)
    median_sigma: np.ndarray | None = None
    sigma_p99: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in METHOD_FEATURES:
            raise InputError(f"unknown uncertainty method {self.method!r}; use {', '.join(METHOD_FEATURES)}")
        if "local" in METHOD_FEATURES[self.method] and (self.local_points is None or self.local_residuals is None):
            raise InputError(f"the {self.method} uncertainty method needs the validation molecules' residuals")
        if "mlp" in METHOD_FEATURES[self.method] and self.network is None:
            raise InputError("the mlp uncertainty method needs its network's weights")

    @property
    def features(self) -> tuple[str, ...]:
        return METHOD_FEATURES[self.method]

    def project(self, emb: np.ndarray) -> np.ndarray:
        """``(n, D)`` float32: embeddings in the whitened PCA projection."""
        emb = np.asarray(emb, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[1] != len(self.center):
            raise InputError(f"the uncertainty calibration takes ({len(self.center)},)-dimensional embeddings, "
                             f"got shape {emb.shape}")
        return (emb - self.center) @ self.components

    def distance(self, emb: np.ndarray) -> np.ndarray:
        """``(n,)`` latent distance to the training set (1 = the validation part's median); NaN for
        a row with a non-finite embedding."""
        x = self.project(emb)
        ok = np.isfinite(x).all(axis=1)
        out = np.full(len(x), np.nan)
        if ok.any():
            out[ok] = _mean_knn_distance(x[ok], self._float32("reference"), self.k_distance) / self.distance_scale
        return out

    def _float32(self, name: str) -> np.ndarray:
        """A stored (float16) point set as contiguous float32, converted once per calibration object
        (a prediction at a time, converting 20,000 points on every call cost more than the search)."""
        cache = self.__dict__.setdefault("_as_float32", {})
        if name not in cache:
            cache[name] = np.ascontiguousarray(getattr(self, name), dtype=np.float32)
        return cache[name]

    def local(self, emb: np.ndarray, *, leave_one_out: bool = False) -> np.ndarray:
        """``(n, T)`` mean scaled |residual| of each molecule's ``k_local`` nearest validation
        molecules (``leave_one_out``: ``emb`` are the validation molecules, each without itself)."""
        _, index = knn(self.project(emb), self._float32("local_points"), self.k_local, exclude_self=leave_one_out)
        return self._float32("local_residuals")[index].mean(axis=1)

    def design(self, emb: np.ndarray, *, leave_one_out: bool = False, network_scale: np.ndarray | None = None) -> np.ndarray:
        """``(n, T, P)`` the features each property's log-sigma is linear in: 1, then log distance
        and the log local residual or the network's log scale, as the method says.

        For the validation molecules themselves (while fitting): ``leave_one_out`` leaves each
        out of its own local residual, and ``network_scale`` ``(n, T)`` gives the networks'
        out-of-fold log scales in place of the mean over all of them."""
        return self._design(emb, self.distance(emb), leave_one_out=leave_one_out, network_scale=network_scale)

    def _design(self, emb, distance, *, leave_one_out=False, network_scale=None) -> np.ndarray:
        n, T = len(emb), len(self.keys)
        cols = [np.ones((n, T))]
        if "distance" in self.features:
            cols.append(np.repeat(np.log(np.maximum(distance, 1e-6))[:, None], T, axis=1))
        if "local" in self.features:
            cols.append(np.log(np.maximum(self.local(emb, leave_one_out=leave_one_out), 1e-6)))
        if "mlp" in self.features:
            cols.append(scale_network(self.network, emb) if network_scale is None else network_scale)
        return np.stack(cols, axis=-1)

    def sigma(self, preds: np.ndarray, emb: np.ndarray) -> np.ndarray:
        """``(n, T)`` sigma in the registry's units for molecules predicted as ``preds (n, T)``
        with embeddings ``emb (n, E)``; rows with a non-finite embedding get NaN."""
        return self.sigma_and_distance(preds, emb)[0]

    def sigma_and_distance(self, preds: np.ndarray, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`sigma` and :meth:`distance` ``(n,)`` together (the distance is computed once)."""
        preds, emb = np.asarray(preds), np.asarray(emb, dtype=np.float32)
        if preds.ndim != 2 or preds.shape[1] != len(self.keys) or len(preds) != len(emb):
            raise InputError(f"sigma needs predictions of shape (n, {len(self.keys)}) for the n embeddings, "
                             f"got {preds.shape} and {emb.shape}")
        out, dist = np.full(preds.shape, np.nan), np.full(len(preds), np.nan)
        ok = np.isfinite(emb).all(axis=1) if emb.ndim == 2 else np.zeros(len(emb), bool)
        if ok.any():
            d = self.distance(emb[ok])
            dist[ok] = d
            sigma = self.scale * np.exp(np.einsum("ntp,tp->nt", self._design(emb[ok], d), self.coef))
            far = d > self.distance_limit
            if self.latent_coef is not None and far.any():
                log_d = np.log(d[far])[:, None]
                floor = np.exp(self.latent_coef[:, 0] + self.latent_coef[:, 1] * log_d)
                sigma[far] = np.maximum(sigma[far], floor)
            out[ok] = sigma
        return out, dist

    def half_width(self, sigma: np.ndarray, level: float = 0.9) -> np.ndarray:
        """Half widths of the calibrated central ``level`` intervals (a level the calibration has:
        0.5, 0.68, 0.9, 0.95 or 0.99): ``factor * sigma``, with the factors from the validation part."""
        if level not in self.factors:
            raise InputError(f"the calibration has intervals at {', '.join(f'{p:g}' for p in self.factors)}, not {level:g}")
        return np.asarray(sigma) * self.factors[level]

    # -- plain dicts, for model files --------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The calibration as tensors, lists, strings and floats (``weights_only`` loadable)."""
        def t(a, dtype=torch.float32):
            return None if a is None else torch.from_numpy(np.ascontiguousarray(a)).to(dtype)

        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "method": self.method,
            "keys": list(self.keys), "units": list(self.units),
            "center": t(self.center), "components": t(self.components), "reference": t(self.reference, torch.float16),
            "k_distance": int(self.k_distance), "distance_scale": float(self.distance_scale),
            "local_points": t(self.local_points, torch.float16), "local_residuals": t(self.local_residuals, torch.float16),
            "residual_scale": t(self.residual_scale, torch.float64), "k_local": int(self.k_local),
            "network": None if self.network is None else {k: t(v) for k, v in self.network.items()},
            "latent_coef": t(self.latent_coef, torch.float64), "distance_limit": float(self.distance_limit),
            "coef": t(self.coef, torch.float64), "scale": t(self.scale, torch.float64),
            "factors": {str(k): t(v, torch.float64) for k, v in self.factors.items()},
            "distance_percentiles": {str(k): float(v) for k, v in self.distance_percentiles.items()},
            "median_sigma": t(self.median_sigma, torch.float64), "sigma_p99": t(self.sigma_p99, torch.float64),
            "info": dict(self.info),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        """Inverse of :meth:`to_dict` (arrays may be tensors, numpy arrays or lists)."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise InputError("the model file's uncertainty entry is not a molmtl calibration")
        if d.get("format_version", 0) > FORMAT_VERSION:
            raise InputError(f"the model file's calibration was written by a newer molmtl (format {d['format_version']}); upgrade molmtl")

        def a(v, dtype=np.float64):
            if v is None:
                return None
            return (v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)).astype(dtype)

        return cls(
            method=d["method"], keys=tuple(d["keys"]), units=tuple(d["units"]),
            center=a(d["center"], np.float32), components=a(d["components"], np.float32),
            reference=a(d["reference"], np.float16), k_distance=int(d["k_distance"]),
            distance_scale=float(d["distance_scale"]), coef=a(d["coef"]), scale=a(d["scale"]),
            factors={float(k): a(v) for k, v in d["factors"].items()},
            local_points=a(d.get("local_points"), np.float16), local_residuals=a(d.get("local_residuals"), np.float16),
            residual_scale=a(d.get("residual_scale")), k_local=int(d.get("k_local", 32)),
            network=None if d.get("network") is None else {k: a(v, np.float32) for k, v in d["network"].items()},
            latent_coef=a(d.get("latent_coef")), distance_limit=float(d.get("distance_limit", float("inf"))),
            distance_percentiles={int(k): float(v) for k, v in d.get("distance_percentiles", {}).items()},
            median_sigma=a(d.get("median_sigma")), sigma_p99=a(d.get("sigma_p99")), info=dict(d.get("info") or {}),
        )


def _mean_knn_distance(x: np.ndarray, points: np.ndarray, k: int) -> np.ndarray:
    return knn(x, points, k)[0].mean(axis=1).astype(np.float64)


def calibration_of(model) -> Calibration | None:
    """The calibration stored with a :class:`~molmtl.inference.TrainedModel` (its model file's
    ``uncertainty`` entry), or None for a model without one."""
    d = (getattr(model, "info", None) or {}).get("uncertainty")
    return None if d is None else Calibration.from_dict(d)


__all__ = ["Calibration", "calibration_of", "METHOD_FEATURES", "PERCENTILES", "FORMAT_VERSION"]
