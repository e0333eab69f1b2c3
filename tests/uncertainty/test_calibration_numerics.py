"""Calibration on synthetic heteroscedastic data: nominal coverage on held-out molecules, sigma
that ranks the errors, and the metrics on known numbers."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.uncertainty.calibrate import fit_calibration
from molmtl.uncertainty.calibration import METHOD_FEATURES
from molmtl.uncertainty.fit import fit_log_sigma, interval_factors
from molmtl.uncertainty.metrics import (
    gaussian_nll,
    miscalibration_area,
    ranks,
    spearman,
    top_fraction_mae,
)
from molmtl.uncertainty.report import calibration_report


@pytest.mark.parametrize("method", list(METHOD_FEATURES))
def test_calibrated_intervals_cover_their_level_on_held_out_molecules(synthetic, targets, method):
    cal = fit_calibration(synthetic, targets, method=method, k_local=16)
    report = calibration_report(cal, synthetic["test"], targets)
    for row in report["targets"]:
        assert 0.87 <= row["coverage"]["0.9"] <= 0.93, row
        assert 0.64 <= row["coverage"]["0.68"] <= 0.72, row
    assert cal.factors[0.9] == pytest.approx(1.645, abs=1e-3)


@pytest.mark.parametrize("method", ["local", "mlp", "latent"])
def test_sigma_ranks_the_errors_of_a_heteroscedastic_problem(synthetic, targets, method):
    cal = fit_calibration(synthetic, targets, method=method, k_local=16)
    rows = {r["key"]: r for r in calibration_report(cal, synthetic["test"], targets)["targets"]}
    assert rows["U0"]["spearman"] > 0.3 and rows["U0"]["ratio"] > 2.0  # sigma grows with the distance itself
    if method != "latent":  # the second property's error grows along one direction only: local methods see it
        assert rows["mu"]["spearman"] > 0.2
    homoscedastic = np.ones(len(synthetic["test"].emb))
    r = synthetic["test"].residuals[:, 0]
    assert gaussian_nll(r, cal.sigma(synthetic["test"].preds, synthetic["test"].emb)[:, 0]) < \
        gaussian_nll(r, homoscedastic * np.std(r))


def test_far_embeddings_get_larger_distances_and_sigmas(synthetic, targets):
    cal = fit_calibration(synthetic, targets, method="mlp")
    near, far = np.zeros((1, 8), np.float32), np.full((1, 8), 6.0, np.float32)
    assert cal.distance(far)[0] > 3 * cal.distance(near)[0]
    preds = np.zeros((1, 2))
    far_sigma, near_sigma = cal.sigma(preds, far)[0], cal.sigma(preds, near)[0]
    assert (far_sigma >= near_sigma).all() and far_sigma[0] > 5 * near_sigma[0]
    # the network is not trusted outside the validation molecules' range: no wild extrapolation
    assert far_sigma[0] < 1e3 * cal.median_sigma[0]


def test_log_sigma_fit_recovers_a_known_power_law():
    rng = np.random.default_rng(0)
    d = np.exp(rng.normal(size=20000))
    r = 0.5 * d**1.5 * rng.normal(size=d.shape)
    c = fit_log_sigma(np.c_[np.ones_like(d), np.log(d)], r)
    assert c == pytest.approx([np.log(0.5), 1.5], abs=0.03)
    # a distance coefficient that would come out negative is held at 0
    c = fit_log_sigma(np.c_[np.ones_like(d), np.log(d)], 0.5 / d * rng.normal(size=d.shape), nonnegative=(1,))
    assert c[1] == 0.0


def test_interval_factors_scale_sigma_to_the_90_percent_quantile():
    rng = np.random.default_rng(1)
    r = 3.0 * rng.normal(size=50000)
    scale, factors = interval_factors(r, np.ones_like(r))
    assert scale == pytest.approx(3.0, rel=0.02)
    assert factors[0.9] == pytest.approx(1.645, rel=1e-3) and factors[0.68] == pytest.approx(0.994, rel=0.03)


def test_metrics_on_known_numbers():
    assert list(ranks(np.array([3.0, 1.0, 2.0, 2.0]))) == [4.0, 1.0, 2.5, 2.5]
    assert spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0, 40.0])) == pytest.approx(1.0)
    assert spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    top, rest = top_fraction_mae(np.array([1.0] * 9 + [5.0]), np.arange(10.0))
    assert (top, rest) == (5.0, 1.0)
    assert gaussian_nll(np.array([0.0]), np.array([1.0])) == pytest.approx(0.5 * np.log(2 * np.pi))
    rng = np.random.default_rng(2)
    sigma = np.exp(rng.normal(size=100000))
    assert miscalibration_area(sigma * rng.normal(size=sigma.shape), sigma) < 0.01
    assert miscalibration_area(3 * sigma * rng.normal(size=sigma.shape), sigma) > 0.2


def test_a_property_without_validation_labels_is_refused_in_one_sentence(synthetic, targets):
    # a sparse CSV column: no sigma can be fitted for it, and the fit must say so rather than crash
    from molmtl.errors import InputError
    from molmtl.uncertainty.data import PartOutputs

    val = synthetic["val"]
    labels = val.labels.copy()
    labels[3:, 1] = np.nan  # 3 labels left for mu
    sparse = {**synthetic, "val": PartOutputs(labels, val.preds, val.emb, val.rows)}
    with pytest.raises(InputError, match=r"too few validation labels to calibrate mu \(3\)"):
        fit_calibration(sparse, targets)
