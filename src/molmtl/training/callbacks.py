"""Lightning callbacks of a run: a wall-time budget per invocation, a one-line-per-epoch log, and
an exponential moving average of the weights.

:class:`TimeBudget` ends ``fit`` at an epoch boundary before a wall-clock budget runs out, so a
job limited to minutes (a batch-queue slot, a lent GPU) stops with its ``last.ckpt`` written and
continues with ``molmtl train --resume``. Unlike Lightning's ``max_time`` (whose elapsed time is
stored in the checkpoint and so spans all resumed invocations), the budget here counts this
process only.
"""

from __future__ import annotations

import logging
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import WeightAveraging

log = logging.getLogger(__name__)


class TimeBudget(L.Callback):
    """Stop training at the end of the first epoch after which another epoch would overrun ``seconds``.

    Args:
        seconds: wall-clock budget of this ``fit`` call's training epochs (validation included),
            from the start of training. Loading data before and the final evaluation and model
            file after are not counted: leave a margin for them (a minute for QM9 on a GPU).
    """

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self._start: float | None = None
        self._epoch_start: float | None = None
        self._durations: list[float] = []
        self.stopped_early = False

    def on_train_start(self, trainer, pl_module) -> None:
        self._start = time.monotonic()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = time.monotonic()

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # after the epoch's validation
        now = time.monotonic()
        self._durations.append(now - self._epoch_start)
        # the next epoch's cost: the longest so far, leaving out the first (compilation, data to
        # the device) once there are others
        longest = max(self._durations[1:] if len(self._durations) > 1 else self._durations)
        over = now - self._start + longest > self.seconds
        over = trainer.strategy.reduce_boolean_decision(over, all=False)  # every DDP process stops together
        if over and not trainer.should_stop:
            log.info("time budget of %.0f s reached after epoch %d; continue with --resume", self.seconds,
                     trainer.current_epoch + 1)
            trainer.should_stop = True
            self.stopped_early = True


class EpochLog(L.Callback):
    """One INFO line per epoch (for runs without a progress bar, e.g. batch jobs): epoch, losses,
    training molecules/s over the whole epoch (validation and checkpoints included) and over its
    training steps alone, and the wall time so far.

    The steps' time ends at the start of validation, after waiting for the GPU's queued work
    (one synchronization per epoch)."""

    def __init__(self):
        self._start = self._epoch_start = 0.0
        self._steps_end: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        self._start = time.monotonic()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start, self._steps_end = time.monotonic(), None

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or self._steps_end is not None:
            return
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        self._steps_end = time.monotonic()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        now = time.monotonic()
        metrics = trainer.callback_metrics
        val = metrics.get("val_loss")
        train = metrics.get("train_loss")
        n = getattr(trainer.datamodule, "n_train", None) if trainer.datamodule is not None else None
        rate = f", {n / (now - self._epoch_start):,.0f} molecules/s" if n else ""
        if n and self._steps_end is not None:
            rate += f" (training steps {n / max(self._steps_end - self._epoch_start, 1e-9):,.0f})"
        log.info("epoch %d/%d: train loss %s, val loss %s%s, %.0f s", trainer.current_epoch + 1, trainer.max_epochs,
                 f"{float(train):.4g}" if train is not None else "-", f"{float(val):.4g}" if val is not None else "-",
                 rate, now - self._start)


class EMADecay:
    r"""The update of an exponential moving average of the weights, with the usual warm-up of its decay.

    Update :math:`n` (from 1) moves the average towards the current weights by :math:`1 - \beta_n` with

    .. math:: \beta_n = \min\left(\beta, \frac{1 + n}{10 + n}\right)

    so that early averages are not dominated by the random initial weights (TensorFlow's
    ``ExponentialMovingAverage`` with ``num_updates``; 0.999 is reached after 8,991 updates).
    Callable as :class:`torch.optim.swa_utils.AveragedModel`'s ``multi_avg_fn``: one fused
    ``_foreach_lerp_`` per device and dtype. The count is read once from the averaged model's
    ``n_averaged`` (so a resumed run goes on where it stopped), then kept on the host: no
    host-device synchronization per step.
    """

    def __init__(self, decay: float):
        self.decay = float(decay)
        self.updates: int | None = None

    def beta(self, n: int) -> float:
        return min(self.decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def __call__(self, averaged: list, current: list, n_averaged) -> None:
        if self.updates is None:
            self.updates = int(n_averaged)  # updates before this one: the first copies, so n_averaged >= 1 here
        torch._foreach_lerp_(averaged, current, 1.0 - self.beta(self.updates))
        self.updates += 1


def weight_average(decay: float) -> WeightAveraging:
    """Lightning's :class:`~lightning.pytorch.callbacks.WeightAveraging` as an EMA of the trained
    parameters (:class:`EMADecay`).

    Validation runs on the averaged weights (so the best checkpoint is chosen by them), and every
    checkpoint stores them as its ``state_dict`` with the current weights beside them (so ``--resume``
    restores both and a model file is written from the average). Buffers (the target scaler's
    references, MRN's covariances) are copied, not averaged: an average of integer buffers would be
    truncated.
    """
    return WeightAveraging(use_buffers=False, multi_avg_fn=EMADecay(decay))


__all__ = ["TimeBudget", "EpochLog", "EMADecay", "weight_average"]
