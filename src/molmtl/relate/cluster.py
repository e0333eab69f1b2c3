r"""Task groupings from a relatedness matrix: graph components, hierarchical clustering, and the
partition of highest total affinity.

Three ways, each returning groups of task keys in the one grouping format
(:mod:`molmtl.mtl.grouping`), every group's tasks in the given task order and groups ordered by
their first task:

* :func:`threshold_groups`: the connected components of the graph with an edge wherever
  :math:`|R_{ij}| \ge` a threshold (label correlations);
* :func:`hierarchical_groups`: average-linkage clustering of a distance matrix cut into ``k``
  groups, ``k`` chosen by the mean silhouette when not given (transfer coefficients);
* :func:`best_partition`: the partition into ``k`` groups (or any number) that maximizes the
  total affinity of Fifty et al. 2021's network selection,

  .. math::
      \mathrm{score}(\mathcal{G}) = \sum_{g \in \mathcal{G}} \sum_{i \in g}
      \frac{1}{|g| - 1} \sum_{j \in g, j \ne i} A_{ij},

  where :math:`A_{ij}` is what task :math:`j` gives task :math:`i` and a task alone scores 0
  (TAG, gradient cosines, measured gains). Exhaustive up to :data:`EXHAUSTIVE_MAX` tasks, else a
  seeded local search (single-task moves between groups, many restarts).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.cluster.hierarchy import cut_tree, linkage
from scipy.spatial.distance import squareform

from molmtl.errors import InputError

#: Up to this many tasks :func:`best_partition` tries every partition (Bell(9) = 21,147).
EXHAUSTIVE_MAX = 9


def _square(matrix, tasks: Sequence[str]) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.shape != (len(tasks), len(tasks)):
        raise InputError(f"a relatedness matrix for {len(tasks)} tasks must be {len(tasks)} x {len(tasks)}, got {m.shape}")
    return m


def check_k(k: int | None, n_tasks: int) -> int | None:
    """``k`` (None: chosen by the method) checked to be a whole number from 1 to the task count."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_tasks:
        raise InputError(f"the number of groups must be a whole number from 1 to {n_tasks} (the tasks), got {k!r}")
    return int(k)


def labels_to_groups(labels: Sequence[int], tasks: Sequence[str]) -> list[list[str]]:
    """Cluster labels per task -> groups, in task order, ordered by their first task."""
    order: dict[int, list[str]] = {}
    for label, task in zip(labels, tasks):
        order.setdefault(int(label), []).append(task)
    return list(order.values())


def threshold_groups(matrix, tasks: Sequence[str], threshold: float) -> list[list[str]]:
    r"""Connected components of the graph with an edge between ``i`` and ``j`` where
    :math:`|M_{ij}| \ge` ``threshold``."""
    m = _square(matrix, tasks)
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"the correlation threshold must be in (0, 1], got {threshold}")
    adjacent = np.abs(np.nan_to_num(m)) >= threshold
    labels = [-1] * len(tasks)
    for start in range(len(tasks)):
        if labels[start] >= 0:
            continue
        labels[start], stack = start, [start]
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(adjacent[i]):
                if labels[j] < 0:
                    labels[j] = start
                    stack.append(int(j))
    return labels_to_groups(labels, tasks)


def silhouette(distance, labels: Sequence[int]) -> float:
    r"""Mean silhouette :math:`\frac{1}{n}\sum_i (b_i - a_i) / \max(a_i, b_i)` of a clustering
    (:math:`a_i`: mean distance to its own cluster, :math:`b_i`: to the nearest other one; 0 for
    a task alone; Rousseeuw 1987). Needs 2 to n - 1 clusters."""
    d = np.asarray(distance, dtype=float)
    labels = np.asarray(labels)
    values = []
    for i in range(len(labels)):
        own = (labels == labels[i]) & (np.arange(len(labels)) != i)
        if not own.any():
            values.append(0.0)
            continue
        a = d[i, own].mean()
        b = min(d[i, labels == c].mean() for c in set(labels.tolist()) if c != labels[i])
        values.append((b - a) / max(a, b) if max(a, b) > 0 else 0.0)
    return float(np.mean(values))


def hierarchical_groups(distance, tasks: Sequence[str], k: int | None = None) -> tuple[list[list[str]], dict]:
    """Average-linkage clustering of a symmetric distance matrix, cut into ``k`` groups (None:
    the ``k`` from 2 to T - 1 of the highest mean silhouette).

    Returns the groups and ``{"k": ..., "silhouette": {k: value}}`` (the criterion's values).
    """
    d = _square(distance, tasks)
    k = check_k(k, len(tasks))
    d = np.maximum((d + d.T) / 2.0, 0.0)
    np.fill_diagonal(d, 0.0)
    n = len(tasks)
    if n < 3 and k is None:
        return [list(tasks)], {"k": 1, "silhouette": {}}
    tree = linkage(squareform(d, checks=False), method="average")
    scores = {}
    for kk in range(2, n):
        scores[kk] = silhouette(d, cut_tree(tree, n_clusters=kk).ravel())
    if k is None:
        k = max(scores, key=lambda kk: (round(scores[kk], 12), -kk))
    labels = cut_tree(tree, n_clusters=k).ravel()
    return labels_to_groups(labels, tasks), {"k": int(k), "silhouette": {int(kk): v for kk, v in scores.items()}}


def partition_score(affinity, labels: Sequence[int]) -> float:
    """The total affinity of a partition (see the module docstring); ``labels[i]``: task i's group."""
    a = np.asarray(affinity, dtype=float)
    labels = np.asarray(labels)
    total = 0.0
    for g in set(labels.tolist()):
        members = np.flatnonzero(labels == g)
        if len(members) > 1:
            block = a[np.ix_(members, members)]
            total += (block.sum() - np.trace(block)) / (len(members) - 1)
    return float(total)


def _partitions(n: int, k: int | None):
    """Every partition of range(n) as a label list (restricted growth strings), with exactly ``k``
    blocks when given."""
    labels = [0] * n

    def grow(i: int, used: int):
        if i == n:
            if k is None or used == k:
                yield list(labels)
            return
        for g in range(min(used + 1, n)):
            if k is not None and g >= k:
                break
            if k is not None and g < used and k - used >= n - i:  # the tasks left must each open a group
                continue
            labels[i] = g
            yield from grow(i + 1, max(used, g + 1))

    yield from grow(0, 0)


def _local_search(a: np.ndarray, k: int, rng: np.random.Generator, restarts: int) -> tuple[np.ndarray, float]:
    n = len(a)
    best_labels, best = None, -np.inf
    for _ in range(restarts):
        labels = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
        rng.shuffle(labels)
        score = partition_score(a, labels)
        improved = True
        while improved:
            improved = False
            for i in rng.permutation(n):
                if (labels == labels[i]).sum() == 1:  # keep exactly k non-empty groups
                    continue
                for g in range(k):
                    if g == labels[i]:
                        continue
                    old = labels[i]
                    labels[i] = g
                    new = partition_score(a, labels)
                    if new > score + 1e-12:
                        score, improved = new, True
                        break
                    labels[i] = old
        if score > best + 1e-12:
            best, best_labels = score, labels.copy()
    return best_labels, best


def best_partition(affinity, tasks: Sequence[str], k: int | None = None, *, seed: int = 0,
                   restarts: int = 64) -> tuple[list[list[str]], dict]:
    """The partition of highest total affinity into ``k`` groups (None: any number; among equal
    scores the fewest groups). ``affinity[i, j]``: what task j gives task i.

    Returns the groups and ``{"k", "score", "scores": {k: best score}, "search"}``.
    """
    a = _square(affinity, tasks)
    a = np.nan_to_num(a)
    n = len(tasks)
    k = check_k(k, n)
    ks = [k] if k is not None else list(range(1, n + 1))
    best: dict[int, tuple[float, np.ndarray]] = {}
    if n <= EXHAUSTIVE_MAX:
        search = "exhaustive"
        for labels in _partitions(n, k):
            kk = max(labels) + 1
            score = partition_score(a, labels)
            if kk not in best or score > best[kk][0] + 1e-12:
                best[kk] = (score, np.asarray(labels))
    else:
        search = f"local search, {restarts} restarts"
        rng = np.random.default_rng(seed)
        for kk in ks:
            labels, score = _local_search(a, kk, rng, restarts)
            best[kk] = (score, labels)
    chosen = k if k is not None else max(best, key=lambda kk: (round(best[kk][0], 9), -kk))
    score, labels = best[chosen]
    return labels_to_groups(labels, tasks), {"k": int(chosen), "score": float(score),
                                             "scores": {int(kk): float(v[0]) for kk, v in sorted(best.items())},
                                             "search": search}


__all__ = [
    "EXHAUSTIVE_MAX",
    "best_partition",
    "check_k",
    "hierarchical_groups",
    "labels_to_groups",
    "partition_score",
    "silhouette",
    "threshold_groups",
]
