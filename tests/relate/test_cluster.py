"""Groupings from relatedness matrices: the partition of highest total affinity (exhaustive and by
local search), hierarchical clustering with the silhouette criterion, and bad group counts."""

import numpy as np
import pytest

from molmtl.errors import InputError
from molmtl.relate.cluster import (
    best_partition,
    check_k,
    hierarchical_groups,
    partition_score,
    silhouette,
)


def _blocks(sizes, inside=1.0, across=-0.2, seed=0, jitter=0.05):
    n = sum(sizes)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    a = np.where(labels[:, None] == labels[None, :], inside, across)
    a = a + jitter * np.random.default_rng(seed).normal(size=(n, n))
    np.fill_diagonal(a, 0.0)
    return a, labels


def test_partition_score_is_fifty_et_al_s_total_affinity():
    a = np.array([[0.0, 1.0, 3.0], [2.0, 0.0, -1.0], [0.5, 4.0, 0.0]])
    assert partition_score(a, [0, 0, 0]) == pytest.approx((1 + 3) / 2 + (2 - 1) / 2 + (0.5 + 4) / 2)
    assert partition_score(a, [0, 0, 1]) == pytest.approx(1.0 + 2.0)  # task 2 alone scores 0
    assert partition_score(a, [0, 1, 2]) == 0.0


def test_exhaustive_search_finds_the_planted_blocks():
    a, _ = _blocks([3, 2, 3])
    tasks = [f"t{i}" for i in range(8)]
    groups, info = best_partition(a, tasks)
    assert groups == [["t0", "t1", "t2"], ["t3", "t4"], ["t5", "t6", "t7"]] and info["k"] == 3
    assert info["search"] == "exhaustive"
    two, info2 = best_partition(a, tasks, 2)
    assert len(two) == 2 and info2["score"] <= info["score"]


def test_local_search_finds_the_planted_blocks_of_nineteen_tasks():
    a, labels = _blocks([6, 4, 5, 4], seed=1)
    tasks = [f"t{i}" for i in range(19)]
    groups, info = best_partition(a, tasks, 4, restarts=16)
    assert info["search"].startswith("local search")
    assert groups == [[f"t{i}" for i in np.flatnonzero(labels == g)] for g in range(4)]


def test_hierarchical_groups_choose_k_by_silhouette():
    d, labels = _blocks([2, 3, 2], inside=0.1, across=2.0, jitter=0.0)
    tasks = list("abcdefg")
    groups, info = hierarchical_groups(d, tasks)
    assert groups == [["a", "b"], ["c", "d", "e"], ["f", "g"]] and info["k"] == 3
    assert info["silhouette"][3] == pytest.approx(silhouette(np.where(d > 0, d, 0), labels))
    assert max(info["silhouette"], key=info["silhouette"].get) == 3
    forced, _ = hierarchical_groups(d, tasks, 2)
    assert len(forced) == 2


@pytest.mark.parametrize("k", [0, 8, -1, 2.5, True])
def test_bad_group_counts_are_refused(k):
    with pytest.raises(InputError, match="number of groups"):
        check_k(k, 7)
