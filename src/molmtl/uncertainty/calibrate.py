"""Fitting a :class:`~molmtl.uncertainty.calibration.Calibration` on a model's validation part.

:func:`fit_calibration` fits one from predictions and embeddings (every fit on the validation
part; the test part only for the percentiles a domain verdict compares with);
:func:`calibrate` does it for a model file (predictions through
:func:`molmtl.uncertainty.data.split_outputs`) and reports on the test part;
:func:`calibrate_after_training` is what ``molmtl train`` calls at the end of a run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtl import __version__
from molmtl.errors import InputError
from molmtl.inference import TrainedModel, load_model
from molmtl.targets import Target
from molmtl.uncertainty.calibration import METHOD_FEATURES, PERCENTILES, Calibration
from molmtl.uncertainty.data import (
    REFERENCE_SIZE,
    PartOutputs,
    split_outputs,
    weights_digest,
)
from molmtl.uncertainty.fit import LEVELS, fit_log_sigma, interval_factors
from molmtl.uncertainty.knn import knn, pca
from molmtl.uncertainty.network import fit_scale_network
from molmtl.uncertainty.report import calibration_report
from molmtl.uncertainty.store import write_calibration

log = logging.getLogger(__name__)

#: The method ``molmtl calibrate`` and ``molmtl train`` fit unless told otherwise (docs/uncertainty.md: why).
DEFAULT_METHOD = "mlp"
#: Whitened PCA dimensions of the stored embeddings; neighbours of the latent distance and of the local residual.
DIMS, K_DISTANCE, K_LOCAL = 32, 10, 32
#: Fewer validation molecules than this are too few to fit a sigma on (``molmtl train`` then skips).
MIN_VALIDATION = 50
#: Fewer validation labels of a property than this leave its sigma unfitted (a sparse CSV column).
MIN_LABELS = 5


def fit_calibration(outputs: dict[str, PartOutputs], targets: Sequence[Target], *, method: str = DEFAULT_METHOD,
                    dims: int = DIMS, k_distance: int = K_DISTANCE, k_local: int = K_LOCAL, seed: int = 0) -> Calibration:
    """A calibration of ``method`` fitted on ``outputs["val"]``, its latent distance measured
    against ``outputs["reference"]`` (training molecules); with ``outputs["test"]``, the test
    part's distance percentiles and sigma statistics are kept for domain verdicts."""
    ref, val = outputs["reference"], outputs["val"]
    if len(val.emb) < 2 or len(ref.emb) < 2:
        raise InputError(f"calibration needs at least 2 validation and 2 reference molecules, got {len(val.emb)} and {len(ref.emb)}")
    center, components = pca(ref.emb, dims)
    spread = ((ref.emb - center) @ components).std(axis=0)
    components = components / np.where(spread > 0, spread, 1.0)  # whitened: every kept direction counts the same
    reference = ((ref.emb - center) @ components).astype(np.float16)
    val_points = ((val.emb - center) @ components).astype(np.float16)
    raw = knn(val_points, reference, k_distance)[0].mean(axis=1)
    residual = val.residuals
    labelled = np.isfinite(residual).sum(axis=0)
    short = [f"{t.key} ({int(n)})" for t, n in zip(targets, labelled) if n < MIN_LABELS]
    if short:
        raise InputError(f"too few validation labels to calibrate {', '.join(short)}: at least {MIN_LABELS} per "
                         "property are needed")
    with np.errstate(invalid="ignore"):
        residual_scale = np.nanmean(np.abs(residual), axis=0)
    residual_scale = np.where(np.isfinite(residual_scale) & (residual_scale > 0), residual_scale, 1.0)
    scaled = np.nan_to_num(np.abs(residual) / residual_scale, nan=1.0)  # a missing label counts as typical
    T = len(targets)
    features = METHOD_FEATURES.get(method)
    if features is None:
        raise InputError(f"unknown uncertainty method {method!r}; use {', '.join(METHOD_FEATURES)}")
    network, out_of_fold = (fit_scale_network(val.emb, residual, seed=seed) if "mlp" in features else (None, None))
    local = "local" in features
    cal = Calibration(
        method=method, keys=tuple(t.key for t in targets), units=tuple(t.unit for t in targets),
        center=center, components=components.astype(np.float32), reference=reference, k_distance=k_distance,
        distance_scale=float(np.median(raw)) or 1.0, coef=np.zeros((T, 1 + len(features))), scale=np.ones(T),
        factors={}, local_points=val_points if local else None,
        local_residuals=scaled.astype(np.float16) if local else None, residual_scale=residual_scale,
        k_local=k_local, network=network)
    # a validation molecule never sees its own residual: not in its local mean, not in its network's training
    design = cal.design(val.emb, leave_one_out=True, network_scale=out_of_fold)
    cal.coef = np.stack([fit_log_sigma(design[:, j], residual[:, j], nonnegative=(1,)) for j in range(T)])
    raw_sigma = np.exp(np.einsum("ntp,tp->nt", design, cal.coef))
    factors = {p: np.ones(T) for p in LEVELS}
    for j in range(T):
        cal.scale[j], per_level = interval_factors(residual[:, j], raw_sigma[:, j])
        for p, f in per_level.items():
            factors[p][j] = f
    cal.factors = factors
    if method != "latent":  # beyond the validation molecules' distances, at least the latent method's sigma
        log_d = design[:, 0, 1]  # every method's first feature
        cal.latent_coef = np.zeros((T, 2))
        for j in range(T):
            c = fit_log_sigma(np.c_[np.ones_like(log_d), log_d], residual[:, j], nonnegative=(1,))
            scale, _ = interval_factors(residual[:, j], np.exp(c[0] + c[1] * log_d))
            cal.latent_coef[j] = [c[0] + np.log(scale), c[1]]
        cal.distance_limit = float(np.percentile(np.exp(log_d), 99))
    if "test" in outputs and len(outputs["test"].emb):
        set_domain_statistics(cal, outputs["test"])
    return cal


def set_domain_statistics(cal: Calibration, part: PartOutputs) -> None:
    """Keep ``part``'s (the test part's) latent-distance percentiles and sigma median and 99th
    percentile in ``cal``: what a domain verdict compares a new molecule with."""
    d = cal.distance(part.emb)
    sigma = cal.sigma(part.preds, part.emb)
    cal.distance_percentiles = {p: float(np.percentile(d, p)) for p in PERCENTILES}
    cal.median_sigma = np.nanmedian(sigma, axis=0)
    cal.sigma_p99 = np.nanpercentile(sigma, 99, axis=0)


def calibrate(model: str | Path | TrainedModel, *, geometry: str | None = None, method: str = DEFAULT_METHOD,
              limit: int | None = None, reference_size: int = REFERENCE_SIZE, cache: str | Path | None = None,
              device: str | None = None, outputs: dict[str, PartOutputs] | None = None) -> tuple[Calibration, dict]:
    """Fit a calibration of ``method`` for a model file (or a loaded model) on its validation part
    and report it on its test part.

    Args:
        geometry: ``qm9`` or ``rdkit`` for a QM9 model (default: the geometries it was trained on).
        limit: only the first ``limit`` validation and test molecules (and at most that many
            reference molecules): a quick look.
        reference_size: training molecules in the latent distance's reference set.
        cache: a folder for the predictions and embeddings (reruns on the same weights reuse them).
        outputs: predictions already made (:func:`~molmtl.uncertainty.data.split_outputs`).

    Returns:
        ``(calibration, report)``: the report is :func:`~molmtl.uncertainty.report.calibration_report`'s.
    """
    started = time.perf_counter()
    trained = model if isinstance(model, TrainedModel) else load_model(model)
    if outputs is None:
        outputs = split_outputs(trained, geometry=geometry, reference_size=reference_size, limit=limit,
                                cache=cache, device=device)
    cal = fit_calibration(outputs, trained.targets, method=method)
    geometry = geometry or trained.config.geometry
    cal.info.update({"geometry": geometry if trained.config.data is None else None,
                     "model_digest": weights_digest(trained), "molmtl_version": __version__,
                     "split_id": (trained.info.get("split") or {}).get("id"),
                     "n_reference": len(outputs["reference"].emb), "n_val": len(outputs["val"].emb),
                     "n_test": len(outputs["test"].emb)})
    report = calibration_report(cal, outputs["test"], trained.targets)
    report["seconds"] = time.perf_counter() - started
    cal.info["test"] = {r["key"]: {"coverage_90": r["coverage"]["0.9"], "spearman": r["spearman"], "ratio": r["ratio"]}
                        for r in report["targets"]}
    return cal, report


def calibrate_after_training(path: str | Path, model: TrainedModel | None = None) -> Calibration | None:
    """``molmtl train``'s last step: calibrate the run's model file in place, or say in a log line
    why not (no validation part to speak of, a strategy without a molecule embedding)."""
    trained = model if model is not None else load_model(path)
    sizes = (trained.info.get("split") or {}).get("sizes") or [0, 0, 0]
    if sizes[1] < MIN_VALIDATION:
        log.info("no uncertainty calibration: the validation part has %d molecules (at least %d needed)",
                 sizes[1], MIN_VALIDATION)
        return None
    try:
        cal, report = calibrate(trained)
    except InputError as exc:
        log.info("no uncertainty calibration: %s", exc)
        return None
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:  # the model file is written: say, go on
        log.warning("no uncertainty calibration (it failed: %s); molmtl calibrate %s retries it", exc, path)
        return None
    write_calibration(path, cal)
    log.info("uncertainty calibration (%s) written to %s in %.0f s", cal.method, path, report["seconds"])
    return cal


__all__ = ["fit_calibration", "set_domain_statistics", "calibrate", "calibrate_after_training", "DEFAULT_METHOD",
           "MIN_VALIDATION"]
