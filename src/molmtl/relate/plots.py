"""The figures of ``molmtl relate``: task-matrix heatmaps, the thresholded correlation graph,
measure-vs-gain scatter plots and the compare chart (PNG, written atomically)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from molmtl.plotting import pyplot, save_png


def _draw_matrix(ax, matrix, tasks, *, cmap, vmin, vmax, title, annotate: bool):
    m = np.asarray(matrix, dtype=float)
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(tasks)), tasks, rotation=90, fontsize=7)
    ax.set_yticks(range(len(tasks)), tasks, fontsize=7)
    ax.set_title(title, fontsize=9)
    if annotate and len(tasks) <= 20:
        for i in range(len(tasks)):
            for j in range(len(tasks)):
                if np.isfinite(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.2g}", ha="center", va="center", fontsize=4.5,
                            color="white" if abs(m[i, j] - (vmin + vmax) / 2) > 0.35 * (vmax - vmin) else "black")
    return im


def heatmaps(path: str | Path, panels: Sequence[tuple[str, np.ndarray]], tasks: Sequence[str], *,
             label: str, cmap: str = "RdBu_r", vmin: float | None = None, vmax: float | None = None,
             xlabel: str = "", ylabel: str = "", annotate: bool = True) -> Path:
    """One heatmap per ``(title, matrix)`` panel, side by side, one colour bar labelled ``label``.
    Colour limits default to the panels' range (symmetric about 0 for a diverging ``cmap``)."""
    plt = pyplot()
    finite = np.concatenate([np.asarray(m, float)[np.isfinite(m)] for _, m in panels] or [np.zeros(1)])
    if vmin is None or vmax is None:
        hi = float(np.abs(finite).max()) if finite.size else 1.0
        lo_auto, hi_auto = (-hi, hi) if cmap in ("RdBu_r", "RdBu", "coolwarm", "bwr") else (float(finite.min()), float(finite.max()))
        vmin = lo_auto if vmin is None else vmin
        vmax = hi_auto if vmax is None else vmax
    if vmax <= vmin:
        vmax = vmin + 1.0
    side = 0.3 * len(tasks) + 1.6
    fig, axes = plt.subplots(1, len(panels), figsize=(side * len(panels) + 1.0, side + 0.3), squeeze=False,
                             layout="constrained")
    im = None
    for ax, (title, matrix) in zip(axes[0], panels):
        im = _draw_matrix(ax, matrix, tasks, cmap=cmap, vmin=vmin, vmax=vmax, title=title, annotate=annotate)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.75, label=label)
    return save_png(fig, path)


def correlation_graph(path: str | Path, matrix, tasks: Sequence[str], groups: Sequence[Sequence[str]],
                      threshold: float, *, title: str) -> Path:
    """The tasks on a circle, an edge wherever ``|r| >= threshold`` (width by ``|r|``), nodes coloured
    by their group (a connected component)."""
    plt = pyplot()
    m = np.abs(np.nan_to_num(np.asarray(matrix, dtype=float)))
    n = len(tasks)
    angle = 2 * np.pi * np.arange(n) / n
    xy = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    colour = {k: g for g, group in enumerate(groups) for k in group}
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(5.2, 5.2), layout="constrained")
    for i in range(n):
        for j in range(i + 1, n):
            if m[i, j] >= threshold:
                ax.plot(*xy[[i, j]].T, color="0.4", lw=0.5 + 3.0 * (m[i, j] - threshold) / max(1e-9, 1 - threshold),
                        zorder=1)
    for i, task in enumerate(tasks):
        ax.scatter(*xy[i], s=260, color=cmap(colour[task] % cmap.N), zorder=2, edgecolor="k", lw=0.5)
        ax.text(*(1.16 * xy[i]), task, ha="center", va="center", fontsize=8)
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.35, 1.35)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    return save_png(fig, path)


def scatter_panels(path: str | Path, panels: Sequence[tuple[str, np.ndarray, np.ndarray, str]], *, ylabel: str) -> Path:
    """One scatter per ``(title, x, y, text)`` panel (a measure's scores vs the measured gains)."""
    plt = pyplot()
    cols = min(len(panels), 3) or 1
    rows = -(-len(panels) // cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False, layout="constrained")
    for ax, (title, x, y, text) in zip(axes.flat, panels):
        ax.scatter(x, y, s=9, alpha=0.7)
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("score [-]", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    return save_png(fig, path)


def relative_bars(path: str | Path, tasks: Sequence[str], series: Mapping[str, Sequence[float]], *,
                  ylabel: str, title: str) -> Path:
    """Grouped bars per task, one series per method (e.g. MAE relative to single-task, %)."""
    plt = pyplot()
    names = list(series)
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(tasks) * max(1, len(names)) / 2 + 2), 3.6), layout="constrained")
    x = np.arange(len(tasks))
    for k, name in enumerate(names):
        ax.bar(x + (k - (len(names) - 1) / 2) * width, series[name], width, label=name)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xticks(x, tasks, rotation=90, fontsize=7)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return save_png(fig, path)


__all__ = ["correlation_graph", "heatmaps", "relative_bars", "scatter_panels"]
