"""Pair gains and their noise from known MAEs; Spearman's rho and its bootstrap interval; a
measure that follows a planted gain structure ranks it, one that reverses it ranks it backwards."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from molmtl.errors import InputError
from molmtl.relate.base import Scores
from molmtl.relate.cluster import best_partition
from molmtl.relate.evaluate import (
    evaluate_scores,
    pair_vectors,
    spearman,
    spearman_interval,
)
from molmtl.relate.gains import gain_matrix


def test_gains_noise_and_significance_from_known_maes():
    tasks = ("p", "q", "r")
    stl = {"p": {"mean": 10.0, "sd": 0.5}, "q": {"mean": 2.0, "sd": 0.02}, "r": {"mean": 4.0, "sd": 0.4}}
    pair = {("p", "q"): 9.0, ("q", "p"): 2.1, ("p", "r"): 10.5, ("r", "p"): 3.0, ("q", "r"): 1.99, ("r", "q"): 4.2}
    gains, noise, threshold = gain_matrix(tasks, stl, pair, seeds=3)
    assert gains[0, 1] == pytest.approx(10.0) and gains[1, 0] == pytest.approx(-5.0)
    assert gains[2, 0] == pytest.approx(25.0) and gains[1, 2] == pytest.approx(0.5)
    assert np.isnan(np.diag(gains)).all()
    assert noise == pytest.approx([5.0, 1.0, 10.0])
    assert threshold == pytest.approx(2 * noise * np.sqrt(4 / 3))
    significant = np.abs(gains) > threshold[:, None]
    # p gains 10 % > 11.5 %? no; q loses 5 % > 2.3 %: yes; r gains 25 % > 23 %: yes; q's 0.5 %: no
    assert not significant[0, 1] and significant[1, 0] and significant[2, 0] and not significant[1, 2]


def test_gains_grouping_keeps_helping_pairs_together():
    tasks = ("a", "b", "c", "d")
    g = np.array([[np.nan, 5, -3, -4], [6, np.nan, -2, -1], [-3, -2, np.nan, 4], [-1, -5, 3, np.nan]])
    assert best_partition(np.nan_to_num(g), tasks)[0] == [["a", "b"], ["c", "d"]]


def test_spearman_matches_scipy_with_ties():
    x = [1.0, 2.0, 2.0, 3.0, 5.0, 4.0]
    y = [0.1, 0.3, 0.2, 0.2, 0.9, 0.8]
    assert spearman(x, y) == pytest.approx(spearmanr(x, y)[0], abs=1e-12)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_bootstrap_interval_holds_rho_and_is_reproducible():
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    y = x + rng.normal(size=60)
    rho, low, high = spearman_interval(x, y, bootstrap=300, seed=1)
    assert low < rho < high and 0.4 < rho < 0.9
    assert spearman_interval(x, y, bootstrap=300, seed=1) == (rho, low, high)
    with pytest.raises(InputError, match="bootstrap"):
        spearman_interval(x, y, bootstrap=-1)


def test_pair_vectors_count_ordered_and_unordered_pairs():
    s = np.arange(16.0).reshape(4, 4)
    x, y, pairs = pair_vectors(s, s.T, directed=False)
    assert len(x) == 6 and x[0] == pytest.approx((1 + 4) / 2) and np.allclose(x, y)
    xd, yd, pairs = pair_vectors(s, s, directed=True)
    assert len(xd) == 12 and (0, 0) not in pairs


def test_a_measure_following_the_planted_gains_ranks_them_and_a_reversed_one_ranks_them_backwards():
    rng = np.random.default_rng(3)
    tasks = tuple(f"t{i}" for i in range(8))
    block = np.repeat([0, 1, 2], [3, 3, 2])
    gains = np.where(block[:, None] == block[None, :], 8.0, -4.0) + rng.normal(scale=1.0, size=(8, 8))
    np.fill_diagonal(gains, np.nan)
    threshold = np.full(8, 3.0)
    follows = Scores("follows", tasks, np.nan_to_num(gains) + rng.normal(scale=0.5, size=(8, 8)), 1.0)
    reverse = Scores("reverse", tasks, -np.nan_to_num(gains), 2.0)
    noise = Scores("noise", tasks, rng.normal(size=(8, 8)), 3.0)
    rows = {r["measure"]: r for r in evaluate_scores([follows, reverse, noise], tasks, gains, threshold, bootstrap=200)}
    assert rows["follows"]["rho"] > 0.7 and rows["follows"]["rho_low"] > 0.4
    assert rows["reverse"]["rho"] == pytest.approx(-1.0)
    assert abs(rows["noise"]["rho"]) < 0.5 and rows["noise"]["rho_low"] < 0 < rows["noise"]["rho_high"]
    assert rows["follows"]["pairs"] == 28 and rows["follows"]["directed_pairs"] == 56
    assert rows["reverse"]["wall_s"] == 2.0


def test_a_measure_on_other_tasks_is_refused():
    tasks = ("a", "b", "c")
    gains = np.zeros((3, 3))
    with pytest.raises(InputError, match="other tasks"):
        evaluate_scores([Scores("x", ("a", "b", "d"), np.zeros((3, 3)), 0.0)], tasks, gains, np.ones(3))


def test_pair_maes_read_the_part_asked_for():
    # gains' grouping is chosen on validation MAEs (compare judges it on test): the two must not mix
    from pathlib import Path

    from molmtl.config import TrainConfig
    from molmtl.relate.gains import _pair_maes, pair_spec
    from molmtl.relate.runs import RunOutcome

    config = TrainConfig(tasks=("mu", "homo", "lumo"))
    pairs = [("mu", "homo"), ("mu", "lumo"), ("homo", "lumo")]
    outcomes = {}
    for k, (a, b) in enumerate(pairs):
        label = pair_spec(config, a, b, config.seed).label
        outcomes[label] = RunOutcome(label, Path("."), val={a: 1.0 + k, b: 2.0 + k}, test={a: 10.0 + k, b: 20.0 + k},
                                     units={}, val_loss={}, wall_s=0.0)
    val, test = _pair_maes(outcomes, config, pairs, "val"), _pair_maes(outcomes, config, pairs, "test")
    assert val[("mu", "homo")] == 1.0 and val[("homo", "mu")] == 2.0 and val[("lumo", "homo")] == 4.0
    assert test[("mu", "lumo")] == 11.0 and test[("lumo", "mu")] == 21.0
