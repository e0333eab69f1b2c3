"""Label correlations: exact on small matrices, missing labels left out pair by pair, the planted
two-factor structure recovered as the thresholded graph's components."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from molmtl.errors import InputError
from molmtl.relate.cluster import threshold_groups
from molmtl.relate.correlation import CorrelationMeasure, label_correlation
from tests.relate.planted import NAMES, PLANTED, planted_data


def test_pearson_and_spearman_match_their_definitions_on_a_small_matrix():
    y = np.array([[1.0, 2.0, 9.0], [2.0, 4.1, 4.0], [3.0, 5.9, 1.0], [4.0, 8.0, 0.0], [5.0, 30.0, -3.0]])
    pearson, spearman = label_correlation(y)
    for i in range(3):
        for j in range(3):
            assert pearson[i, j] == pytest.approx(pearsonr(y[:, i], y[:, j])[0] if i != j else 1.0, abs=1e-12)
            assert spearman[i, j] == pytest.approx(spearmanr(y[:, i], y[:, j])[0] if i != j else 1.0, abs=1e-12)
    assert spearman[0, 1] == pytest.approx(1.0) and pearson[0, 1] < 0.9  # monotone, not linear
    assert spearman[0, 2] == pytest.approx(-1.0)


def test_missing_labels_are_left_out_pair_by_pair():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 3))
    y[:, 1] += y[:, 0]
    holes = y.copy()
    holes[[3, 7, 11], 1] = np.nan
    holes[[20, 21], 2] = np.nan
    pearson, spearman = label_correlation(holes)
    keep = np.isfinite(holes[:, 0]) & np.isfinite(holes[:, 1])
    assert pearson[0, 1] == pytest.approx(pearsonr(y[keep, 0], y[keep, 1])[0], abs=1e-12)
    keep = np.isfinite(holes[:, 1]) & np.isfinite(holes[:, 2])
    assert spearman[1, 2] == pytest.approx(spearmanr(y[keep, 1], y[keep, 2])[0], abs=1e-12)
    assert np.isfinite(pearson).all()


def test_two_latent_factors_give_two_groups_at_0_8():
    _, y = planted_data(n=400)
    pearson, spearman = label_correlation(y.numpy())
    assert threshold_groups(pearson, NAMES, 0.8) == PLANTED
    assert threshold_groups(spearman, NAMES, 0.8) == PLANTED
    assert threshold_groups(pearson, NAMES, 1.0) == [[k] for k in NAMES]  # noisy labels: no |r| of exactly 1
    assert abs(pearson[0, 3]) < 0.2 and pearson[0, 2] < -0.9  # independent factors; a and -a


def test_threshold_graph_components_are_transitive():
    m = np.eye(4)
    m[0, 1] = m[1, 0] = -0.9  # strong negative correlation joins too
    m[1, 2] = m[2, 1] = 0.85
    assert threshold_groups(m, ["w", "x", "y", "z"], 0.8) == [["w", "x", "y"], ["z"]]


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.5, float("nan")])
def test_bad_threshold_is_refused(threshold):
    with pytest.raises(InputError, match="threshold"):
        CorrelationMeasure(threshold=threshold)
