"""The LightningModule: one training step through the Strategy / Balancer contract.

Manual optimization, because the balancer owns the backward pass (a weighted sum for UW/DWA/
FAMO, a Jacobian aggregation through torchjd for UPGrad/MGDA/...). One step:

1. ``output = strategy(batch)``: normalized predictions ``(B, T)``;
2. ``losses = masked_task_losses(output.pred, scaler.normalize(batch.y))``: ``(T,)``, NaN labels out;
3. ``balancer.backward(losses, strategy, output, strategy.penalty())`` sets ``.grad``;
4. (DDP) gradients averaged across processes, clipped, AdamW step, LR schedule step;
5. ``strategy.on_after_step()`` (MRN's covariance update).

No ``.to(device)`` or ``.cuda()`` in here: Lightning places modules and batches, so the same code
runs on CPU, one GPU or DDP.
"""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from torch import Tensor

from molmtl.config import TrainConfig
from molmtl.mtl.base import masked_loss_sums, masked_task_losses
from molmtl.targets import column_header
from molmtl.training.schedule import lr_factor
from molmtl.units import QM9_MAX_ATOMS


def _own_compile_encoders(strategy) -> list:
    """Encoders that compile their own static-shape core (PaiNN's ``compile`` flag)."""
    return [m for m in strategy.modules() if isinstance(getattr(m, "compile", None), bool) and hasattr(m, "_compiled")]


def static_shape_count(trim_to: int, n_max: int = QM9_MAX_ATOMS) -> int:
    """Most distinct input shapes a static compile meets in one run of device-resident batches:
    atom widths (1, or ``ceil(n_max / trim_to)`` when trimming) x (full, last smaller batch) x
    (training, validation under ``inference_mode``: a new graph too)."""
    widths = -(-n_max // trim_to) if trim_to else 1
    return widths * 2 * 2


def allow_recompiles(n: int) -> None:
    """Let torch._dynamo keep at least ``n`` compiled graphs per function (a process-wide setting,
    only ever raised here).

    With ``dynamic=False`` each new input shape is a recompile, kept in a cache of
    ``recompile_limit`` (formerly ``cache_size_limit``; default 8) graphs per function; past it
    dynamo logs one warning and runs every further shape eagerly: a silent slow-down.
    """
    cfg = torch._dynamo.config
    name = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"
    setattr(cfg, name, max(int(getattr(cfg, name)), int(n)))


def _compiled_forward(strategy, static: bool = True, shapes: int = static_shape_count(0)):
    """The strategy's forward under ``torch.compile``.

    With ``static`` (batches of a few fixed widths: ``--device-data``, with ``--trim-to`` up to
    ``ceil(29 / trim_to)`` widths), encoders that compile their own static-shape core (PaiNN:
    the layers, ``dynamic=False``, CUDA only) are switched to it and the strategy stays eager,
    provided it calls ``encoder(batch)``; dynamo's recompile limit is raised to ``shapes`` (the
    graphs of one run, :func:`static_shape_count`). Otherwise (DataLoader batches of varying
    width, layer-wise strategies) the whole strategy is wrapped, with torch.compile's dynamic
    shapes after a first recompile; the wrapper is kept outside the module tree so
    ``state_dict`` keys stay plain.
    """
    own = _own_compile_encoders(strategy)
    if static and own and getattr(strategy, "calls_encoder_forward", True):
        for m in own:
            m.compile = True
        allow_recompiles(shapes)
        return strategy
    return torch.compile(strategy)


def release_compiled(strategy) -> None:
    """Switch encoders' own compilation off again (after training: evaluation batches have other
    shapes, each of which would cost a static recompile)."""
    for m in _own_compile_encoders(strategy):
        m.compile, m._compiled = False, None


def adamw_options(params) -> dict:
    """``{"fused": True}`` when every parameter is on a CUDA device, else ``{}`` (torch's default).

    The fused AdamW updates all parameters in one kernel launch instead of torch's default
    multi-tensor (``foreach``) path, which launches several per step and does its bookkeeping
    on the host. Lightning moves the model to its device before calling
    ``configure_optimizers`` (``Strategy.setup``: ``model_to_device`` then ``setup_optimizers``),
    so the parameters seen there are the trained ones. A resumed run builds its optimizer here
    too, then loads the checkpoint's moments into it. Gradients are clipped with
    :func:`torch.nn.utils.clip_grad_norm_`, which works with either kind.
    """
    params = list(params)
    return {"fused": True} if params and all(p.is_cuda for p in params) else {}


class MTLModule(L.LightningModule):
    """Strategy + balancer + target scaler, trained with AdamW.

    Args:
        config: the run's :class:`TrainConfig` (optimizer and schedule fields are read).
        strategy: a :class:`molmtl.mtl.base.Strategy`.
        balancer: a :class:`molmtl.mtl.base.Balancer` (its own parameters, e.g. uncertainty
            weights, are trained with the model's).
        scaler: a fitted :class:`molmtl.models.normalize.TargetScaler` over the strategy's tasks.
        steps_per_epoch: optimizer steps per epoch (for the cosine schedule's length).

    Logged: ``train_loss`` (mean normalized task loss), ``val_loss`` (mean over tasks of the
    validation loss, MSE or L1 as ``config.loss``, in normalized units: every task counts the
    same, whatever its unit, unless ``config.task_weights`` weights the mean as the training
    losses; it selects the best checkpoint),
    ``val_mae/<key> [<unit>]`` (display units: meV for energies), and the balancer's weights.
    """

    def __init__(self, config: TrainConfig, strategy, balancer, scaler, steps_per_epoch: int):
        super().__init__()
        self.automatic_optimization = False
        self.config, self.steps_per_epoch = config, max(int(steps_per_epoch), 1)
        self.strategy, self.balancer, self.scaler = strategy, balancer, scaler
        self.tasks = tuple(strategy.tasks)
        # validation MAE per task in display units, the unit in the logged name (CSV and TensorBoard)
        self._mae_logs = [(column_header(f"val_mae/{t.key}", t.display_unit), float(t.display_scale))
                          for t in scaler.targets]
        # static task weights multiply the per-task losses before the balancer sees them
        weights = torch.tensor([config.weight_of(k) for k in self.tasks], dtype=torch.float32)
        self.register_buffer("task_weights", weights, persistent=False)
        self._weighted = bool(config.task_weights)
        forward = strategy
        if config.compile:
            forward = _compiled_forward(strategy, static=config.device_data, shapes=static_shape_count(config.trim_to))
        self.__dict__["_forward"] = forward
        self._val: list[Tensor] = []

    # --- optimization ------------------------------------------------------------------------
    def configure_optimizers(self):
        cfg = self.config
        params = [p for p in self.strategy.parameters() if p.requires_grad]
        params += [p for p in self.balancer.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **adamw_options(params))
        if cfg.schedule == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience, min_lr=cfg.lr * cfg.min_lr_ratio)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched}}  # stepped on val_loss below
        # Lightning's estimate counts this process's batches (divided among DDP processes).
        total = int(self.trainer.estimated_stepping_batches) if self._trainer is not None else cfg.epochs * self.steps_per_epoch
        warmup = min(int(round(cfg.warmup_epochs * total / cfg.epochs)), total // 2)
        fn = partial(lr_factor, total_steps=total, warmup_steps=warmup, min_ratio=cfg.min_lr_ratio)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, fn), "interval": "step"}}

    def _losses(self, batch):
        output = self._forward(batch)
        target = self.scaler.normalize(batch.y, batch)
        losses = masked_task_losses(output.pred.float(), target, self.config.loss)
        return output, losses * self.task_weights if self._weighted else losses

    def on_train_start(self) -> None:
        # Balancers that set .grad themselves (torchjd's autograd.grad) never fire DDP's reducer
        # hooks, and DDP then fails at the next forward. So DDP's own gradient sync is switched off
        # (as inside ``no_sync()``) and _average_gradients all-reduces after every balancer.
        wrapped = self.trainer.strategy.model
        if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel):
            wrapped.require_backward_grad_sync = False

    def _average_gradients(self) -> None:
        """Mean of ``.grad`` over DDP processes (one all-reduce per parameter; a sync point)."""
        if self.trainer.world_size <= 1:
            return
        for p in self.parameters():
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad, op=torch.distributed.ReduceOp.SUM)
                p.grad /= self.trainer.world_size

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        output, losses = self._losses(batch)
        penalty = self.strategy.penalty()
        opt.zero_grad(set_to_none=True)
        info = self.balancer.backward(losses, self.strategy, output, penalty)
        self._average_gradients()
        if self.config.grad_clip:
            # torch's own clipping: Lightning's (bf16-mixed plugin) refuses fused optimizers, and
            # with manual optimization and no gradient scaler (fp32, bf16) it would do the same
            params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        opt.step()
        if self.config.schedule == "cosine":
            self.lr_schedulers().step()
        self.strategy.on_after_step()
        B = len(batch)
        self.log("train_loss", losses.detach().mean(), prog_bar=True, batch_size=B, sync_dist=True)
        self.log("penalty", penalty.detach().float(), batch_size=B, sync_dist=True)
        if self.global_step % self.trainer.log_every_n_steps == 0:
            # only when written: a Python float becomes a device tensor (a host-device copy that
            # waits for the GPU), so logging it every step would serialize the host and the GPU
            self.log("lr", opt.param_groups[0]["lr"], batch_size=B)
        for k, v in (info or {}).items():
            self.log(f"balancer/{k}", v if isinstance(v, Tensor) else float(v), batch_size=B)

    # --- validation ----------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val = []

    def validation_step(self, batch, batch_idx):
        output = self._forward(batch)
        pred = output.pred.float()
        target = self.scaler.normalize(batch.y, batch)
        loss_sum, count = masked_loss_sums(pred, target, self.config.loss)  # the training loss's kind
        err = (self.scaler.denormalize(pred, batch) - batch.y.to(torch.float64)).abs()
        ae = torch.where(torch.isnan(target), 0.0, err).sum(0)
        self._val.append(torch.stack([loss_sum.double(), ae, count.double()]))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        sums = torch.stack(self._val).sum(0)  # (3, T): loss sum (normalized units), abs error, count
        sums = self.trainer.strategy.reduce(sums, reduce_op="sum")  # all processes' molecules
        count = sums[2].clamp(min=1)
        mse, mae = sums[0] / count, sums[1] / count
        w = self.task_weights.to(mse.dtype)
        val_loss = (w * mse).sum() / w.sum()  # the mean over tasks, weighted as in training
        # already equal on every process (the sums above span all of them); a max over processes
        # keeps them exactly and tells Lightning that checkpoints and early stopping see all molecules
        self.log("val_loss", val_loss.float(), prog_bar=True, sync_dist=True, reduce_fx="max")
        for (name, scale), m in zip(self._mae_logs, mae):
            self.log(name, (m * scale).float(), sync_dist=True, reduce_fx="max")
        if self.config.schedule == "plateau" and not self.trainer.sanity_checking:
            self.lr_schedulers().step(val_loss.item())

    @torch.no_grad()
    def predict(self, batch) -> Tensor:
        """``(B, T)`` float64 predictions in the registry's units."""
        return self.scaler.denormalize(self._forward(batch).pred.float(), batch)


__all__ = ["MTLModule", "adamw_options", "allow_recompiles", "static_shape_count"]
