r"""One multi-task training run that measures, as it goes, how each task's update moves the others.

The model is hard sharing (one encoder :math:`\theta_s`, one head :math:`\theta_i` per task),
trained on :math:`\sum_i L_i` with AdamW. Every ``every``-th step, on that step's batch
:math:`X^t`, the per-task gradients :math:`g_i = \nabla_{\theta_s} L_i(X^t)` are taken and two
things are recorded before the update:

* TAG's inter-task affinity (Fifty et al., "Efficiently Identifying Task Groupings for
  Multi-Task Learning", NeurIPS 2021): a lookahead SGD step of the shared encoder on task
  :math:`i` alone, :math:`\theta_{s|i}^{t+1} = \theta_s^t - \eta\, g_i`, and the relative change
  of every task's loss on the same batch,

  .. math::
      Z^t_{i \to j} = 1 - \frac{L_j(X^t; \theta_{s|i}^{t+1}, \theta_j^t)}{L_j(X^t; \theta_s^t, \theta_j^t)},

  positive when a step on :math:`i` lowers :math:`j`'s loss; :math:`\eta` is the run's current
  learning rate unless given (to first order :math:`Z^t_{i\to j} \approx \eta\, g_i \cdot g_j / L_j`);
* the cosine similarity of the task gradients, :math:`\cos^t_{ij} = g_i \cdot g_j / (\lVert
  g_i\rVert \lVert g_j \rVert)` (Yu et al. 2020's PCGrad conflict measure; Standley et al. 2020).

Both are averaged over the measured steps (a pair only over the steps where both tasks have
labels in the batch: missing labels are masked). Matrices are stored with rows the task acted
on: ``tag[j, i]`` = :math:`\bar Z_{i \to j}`, what a step on column :math:`i` gives row :math:`j`.
The real update uses the summed per-task gradients of that same step (no extra backward pass).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.func import functional_call
from tqdm.auto import tqdm

from molmtl.data.cache import atomic_path
from molmtl.mtl.base import masked_loss_sums
from molmtl.relate.heads import FitSettings

log = logging.getLogger(__name__)


@dataclass
class AffinityStats:
    """Running sums of a measuring run (what a checkpoint keeps), and its timings in seconds."""

    n_tasks: int
    tag_sum: np.ndarray = None
    tag_count: np.ndarray = None
    cos_sum: np.ndarray = None
    cos_count: np.ndarray = None
    measured_steps: int = 0
    times: dict = field(default_factory=lambda: {"train_s": 0.0, "gradients_s": 0.0, "lookahead_s": 0.0})

    def __post_init__(self):
        T = self.n_tasks
        for name in ("tag_sum", "tag_count", "cos_sum", "cos_count"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros((T, T)))

    @property
    def tag(self) -> np.ndarray:
        """``(T, T)`` mean affinity, ``tag[j, i]`` = :math:`\\bar Z_{i \\to j}` (NaN: never measured)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.tag_count > 0, self.tag_sum / np.maximum(self.tag_count, 1), np.nan)

    @property
    def cosine(self) -> np.ndarray:
        """``(T, T)`` mean cosine of the task gradients on the shared encoder."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.cos_count > 0, self.cos_sum / np.maximum(self.cos_count, 1), np.nan)

    def state(self) -> dict:
        return {"n_tasks": self.n_tasks, "tag_sum": self.tag_sum, "tag_count": self.tag_count, "cos_sum": self.cos_sum,
                "cos_count": self.cos_count, "measured_steps": self.measured_steps, "times": dict(self.times)}


def shared_parameters(strategy) -> list[tuple[str, torch.nn.Parameter]]:
    """The trainable parameters of the strategy's shared encoder, by name."""
    return [(f"encoder.{n}", p) for n, p in strategy.encoder.named_parameters() if p.requires_grad]


def measure_step(strategy, batch, target: torch.Tensor, loss: str, eta: float, stats: AffinityStats) -> None:
    """One measured step: per-task gradients, cosines, TAG lookaheads; leaves ``.grad`` set to the
    gradient of :math:`\\sum_i L_i` on every trainable parameter (the update's)."""
    t0 = time.perf_counter()
    params = [(n, p) for n, p in strategy.named_parameters() if p.requires_grad]
    shared_names = {n for n, _ in shared_parameters(strategy)}
    pred = strategy(batch).pred.float()
    sums, counts = masked_loss_sums(pred, target, loss)
    losses = sums / counts.clamp(min=1).to(sums.dtype)
    labelled = (counts > 0).tolist()
    T = len(labelled)
    totals = [torch.zeros_like(p) for _, p in params]
    shared_grads: dict[int, list[torch.Tensor]] = {}
    for i in range(T):
        if not labelled[i]:
            continue
        grads = torch.autograd.grad(losses[i], [p for _, p in params], retain_graph=True, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for g, (_, p) in zip(grads, params)]
        for k, g in enumerate(grads):
            totals[k] += g
        shared_grads[i] = [g for g, (n, _) in zip(grads, params) if n in shared_names]
    for (_, p), g in zip(params, totals):
        p.grad = g
    active = sorted(shared_grads)
    if active:
        flat = torch.stack([torch.cat([g.reshape(-1) for g in shared_grads[i]]) for i in active]).double()
        norms = flat.norm(dim=1)
        ok = norms > 0
        cos = (flat @ flat.T) / (norms[:, None] * norms[None, :]).clamp(min=1e-300)
        for a, i in enumerate(active):
            for b, j in enumerate(active):
                if ok[a] and ok[b]:
                    stats.cos_sum[j, i] += float(cos[a, b])
                    stats.cos_count[j, i] += 1
    t1 = time.perf_counter()
    base = losses.detach().double()
    shared = [(n, p) for n, p in params if n in shared_names]
    with torch.no_grad():
        for i in active:
            moved = {n: p - eta * g for (n, p), g in zip(shared, shared_grads[i])}
            after_pred = functional_call(strategy, moved, (batch,)).pred.float()
            after_sums, _ = masked_loss_sums(after_pred, target, loss)
            after = after_sums.double() / counts.clamp(min=1).double()
            for j in range(T):
                if labelled[j] and base[j] > 0:
                    stats.tag_sum[j, i] += float(1.0 - after[j] / base[j])
                    stats.tag_count[j, i] += 1
    stats.measured_steps += 1
    stats.times["gradients_s"] += t1 - t0
    stats.times["lookahead_s"] += time.perf_counter() - t1


def affinity_training(strategy, batches: Callable[[int], Iterable], normalize: Callable, fit: FitSettings, *,
                      steps_per_epoch: int, every: int = 1, lookahead_lr: float | None = None,
                      device: str | torch.device = "cpu", checkpoint: Path | None = None, key: dict | None = None,
                      progress: bool = False) -> AffinityStats:
    """Train ``strategy`` (hard sharing) for ``fit.epochs`` epochs on :math:`\\sum_i L_i`, measuring
    TAG affinities and gradient cosines every ``every`` steps.

    Args:
        strategy: a :class:`~molmtl.mtl.hard.HardSharing` (its ``encoder`` is the shared part).
        batches: ``batches(epoch)`` -> that epoch's :class:`~molmtl.data.molbatch.MolBatch` es.
        normalize: ``normalize(y, batch)`` -> normalized targets ``(B, T)`` (NaN = missing).
        fit: optimizer, schedule, loss and seed.
        steps_per_epoch: batches per epoch (for the schedule).
        every: measure every N-th step (1: every step, as Fifty et al.).
        lookahead_lr: :math:`\\eta` of the lookahead step (None: the current learning rate).
        checkpoint: a file to keep the run's state in after every epoch; a rerun with the same
            ``key`` continues from it.
        key: what must match for a checkpoint to be continued (the config, ``every``, ...).
    """
    strategy = strategy.to(device).train()
    T = len(strategy.tasks)
    stats = AffinityStats(T)
    params = [p for p in strategy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=fit.lr, weight_decay=fit.weight_decay)
    sched = fit.schedule(opt, steps_per_epoch)
    first = 0
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        if state.get("key") == key:
            strategy.load_state_dict(state["strategy"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["schedule"])
            stats = AffinityStats(**state["stats"])
            first = int(state["epoch"])
            log.info("tag: continuing from epoch %d (%s)", first, checkpoint)
    step = first * steps_per_epoch
    bar = tqdm(total=fit.epochs * steps_per_epoch, initial=step, desc="tag", unit="step", disable=not progress,
               leave=False)
    try:
        for epoch in range(first, fit.epochs):
            start = time.perf_counter()
            for batch in batches(epoch):
                batch = batch.to(device)
                target = normalize(batch.y, batch)
                opt.zero_grad(set_to_none=True)
                if step % every == 0:
                    eta = opt.param_groups[0]["lr"] if lookahead_lr is None else lookahead_lr
                    measure_step(strategy, batch, target, fit.loss, eta, stats)
                else:
                    sums, counts = masked_loss_sums(strategy(batch).pred.float(), target, fit.loss)
                    (sums / counts.clamp(min=1).to(sums.dtype)).sum().backward()
                if fit.grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, fit.grad_clip)
                opt.step()
                sched.step()
                step += 1
                bar.update(1)
            stats.times["train_s"] += time.perf_counter() - start
            log.info("tag: epoch %d/%d, %d steps measured, %.0f s", epoch + 1, fit.epochs, stats.measured_steps,
                     stats.times["train_s"])
            if checkpoint is not None:
                with atomic_path(checkpoint) as tmp:
                    torch.save({"key": key, "epoch": epoch + 1, "strategy": strategy.state_dict(),
                                "optimizer": opt.state_dict(), "schedule": sched.state_dict(),
                                "stats": stats.state()}, tmp)
    finally:
        bar.close()
    return stats


__all__ = ["AffinityStats", "affinity_training", "measure_step", "shared_parameters"]
