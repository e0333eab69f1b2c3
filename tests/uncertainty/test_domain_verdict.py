"""The latent part of a domain verdict: in, near, outside, with one-sentence reasons."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.uncertainty.calibrate import fit_calibration
from molmtl.uncertainty.domain import latent_verdict


@pytest.fixture(scope="module")
def cal(synthetic, targets):
    return fit_calibration(synthetic, targets, method="mlp")


def _verdict(cal, emb):
    emb = np.asarray(emb, np.float32)[None]
    return latent_verdict(cal.distance(emb)[0], cal.sigma(np.zeros((1, 2)), emb)[0], cal)


def test_a_training_like_embedding_is_in(cal):
    verdict, reasons = _verdict(cal, np.zeros(8))
    assert verdict == "in" and reasons == []


def test_a_far_away_embedding_is_outside_and_says_why(cal):
    near, far = np.zeros(8), np.full(8, 6.0)
    assert cal.distance(far[None].astype(np.float32))[0] > cal.distance(near[None].astype(np.float32))[0]
    verdict, reasons = _verdict(cal, far)
    assert verdict == "outside"
    assert "above the 99th percentile of the test split's" in reasons[0]
    assert all(r.count(".") <= 3 and "\n" not in r for r in reasons)  # one sentence each (numbers have dots)


def test_a_large_sigma_alone_makes_it_near(cal):
    sigma = cal.median_sigma.copy()
    sigma[0] = 20 * cal.sigma_p99[0]
    verdict, reasons = latent_verdict(cal.distance_percentiles[50], sigma, cal)
    assert verdict == "near"
    assert reasons == [f"its sigma for U0 is {sigma[0] / cal.median_sigma[0]:.1f}x the test split's median, "
                       "above the test split's 99th percentile"]


def test_between_the_90th_and_99th_percentile_is_near(cal):
    d = 0.5 * (cal.distance_percentiles[90] + cal.distance_percentiles[99])
    verdict, reasons = latent_verdict(d, cal.median_sigma, cal)
    assert verdict == "near" and "90th percentile" in reasons[0]
    assert latent_verdict(float("nan"), cal.median_sigma, cal)[0] == "outside"


def test_a_non_finite_embedding_gets_nan_sigma_and_is_outside(cal):
    emb = np.full((1, 8), np.nan, np.float32)
    assert np.isnan(cal.distance(emb)).all() and np.isnan(cal.sigma(np.zeros((1, 2)), emb)).all()
    verdict, reasons = latent_verdict(cal.distance(emb)[0], cal.sigma(np.zeros((1, 2)), emb)[0], cal)
    assert verdict == "outside" and reasons == ["it has no usable embedding in the model's representation"]
