"""Brute-force k nearest neighbours and a PCA projection, in numpy and torch only.

The reference sets are small (tens of thousands of 32-dimensional points), so an exact search
in blocks is fast enough on a CPU (10,000 queries against 20,000 points: well under a second)
and needs neither scikit-learn nor SciPy, which a cold ``molmtl predict`` would pay to import.
"""

from __future__ import annotations

import numpy as np
import torch

#: Queries per block: a (block, n_ref) distance matrix at a time (4,096 x 20,000 float32 = 330 MB).
_BLOCK = 2048


def pca(x: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """``(center (E,), components (E, D))`` of the ``D = min(dims, E, n)`` leading principal axes of
    the rows of ``x``; ``(x - center) @ components`` projects onto them."""
    x = np.asarray(x, dtype=np.float64)
    center = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - center, full_matrices=False)
    d = min(dims, vt.shape[0])
    return center.astype(np.float32), np.ascontiguousarray(vt[:d].T, dtype=np.float32)


def knn(queries: np.ndarray, points: np.ndarray, k: int, *, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances ``(n, k)`` (ascending) and indices ``(n, k)`` of each query's ``k``
    nearest ``points``. ``exclude_self``: the queries are the points themselves (same order),
    and a point is not its own neighbour (leave-one-out)."""
    q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
    p = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    k = min(k, len(p) - int(exclude_self))
    if k < 1:
        raise ValueError("knn needs at least one point besides the query")
    dist = np.empty((len(q), k), dtype=np.float32)
    index = np.empty((len(q), k), dtype=np.int64)
    for start in range(0, len(q), _BLOCK):
        block = torch.cdist(q[start:start + _BLOCK], p)
        if exclude_self:
            rows = torch.arange(len(block))
            block[rows, rows + start] = float("inf")
        d, i = torch.topk(block, k, dim=1, largest=False)
        dist[start:start + len(block)], index[start:start + len(block)] = d.numpy(), i.numpy()
    return dist, index


__all__ = ["pca", "knn"]
