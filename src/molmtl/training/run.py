"""``train(config, out_dir)``: one full run, from data to model file.

A run folder holds ``config.json``, ``split.json``, ``checkpoints/{best,last}.ckpt``,
``logs/metrics.csv`` (CSV logger), ``tensorboard/`` (TensorBoard) and ``model.pt``.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.fabric.utilities.rank_zero import rank_zero_only

from molmtl.config import TrainConfig, read_config_file
from molmtl.data.batching import collate
from molmtl.data.cache import atomic_path
from molmtl.errors import InputError
from molmtl.inference import (
    TrainedModel,
    build_strategy,
    encoder_class,
    predict_dataset,
    save_model,
)
from molmtl.mtl.base import masked_loss_sums
from molmtl.mtl.registry import WEIGHTINGS
from molmtl.training.callbacks import EpochLog, TimeBudget, weight_average
from molmtl.training.data import fit_scaler, load_training_data
from molmtl.training.datamodule import MolDataModule
from molmtl.training.evaluate import target_metrics, write_task_covariance
from molmtl.training.finetune import start_from
from molmtl.training.module import MTLModule, release_compiled

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        out_dir: the run folder; model_path: its ``model.pt``.
        metrics: stored with the model: ``val``/``test`` rows of
            :func:`~molmtl.training.evaluate.target_metrics`, ``val_loss``, ``epochs``.
        model: the trained (best-validation) model.
        is_main: False in the other processes of a DDP run: only the main one (global rank 0)
            evaluates, writes ``model.pt`` and reports; the others return its weights unevaluated
            and ``metrics`` empty.
    """

    out_dir: Path
    model_path: Path
    metrics: dict
    model: TrainedModel
    is_main: bool = True


def config_path(out_dir: str | Path) -> Path:
    return Path(out_dir) / "config.json"


def read_run_config(out_dir: str | Path) -> TrainConfig:
    """The config a run folder was started with (for ``--resume``): its ``config.json``, read as
    any config file is (:func:`molmtl.config.read_config_file`)."""
    path = config_path(out_dir)
    if not path.is_file():
        raise InputError(f"{out_dir} holds no config.json, so there is no run to resume there")
    body = read_config_file(path)
    body.pop("protocol", None)
    return TrainConfig.from_dict(body)


def build_balancer(config: TrainConfig):
    """The loss weighting / gradient aggregation ``config`` names, for its tasks."""
    return WEIGHTINGS.build(config.weighting, n_tasks=len(config.tasks), **config.weighting_hp)


def check_plugins(config: TrainConfig) -> None:
    """Build ``config``'s strategy and weighting once, so that a wrong name, option or value is
    one sentence before any data are read."""
    build_strategy(config)
    build_balancer(config)


def _validation_loss(model: TrainedModel, dataset, loss: str, batch_size: int = 256) -> list[float]:
    """Per-task validation loss in normalized units (the quantity the run minimizes)."""
    T = len(model.targets)
    total, count = torch.zeros(T, dtype=torch.float64), torch.zeros(T, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            batch = collate(items, graph=model.needs_graph, geometry=model.needs_geometry)
            target = model.scaler.normalize(batch.y, batch)
            loss_sum, n = masked_loss_sums(model.strategy(batch).pred.float(), target, loss)
            total += loss_sum.double()
            count += n.double()
    return (total / count.clamp(min=1)).tolist()


def _no_litlogger_tip(record: logging.LogRecord) -> bool:
    return "litlogger" not in record.getMessage()


def route_lightning_logs() -> None:
    """Lightning's log lines once, through the application's logging, and without its LitLogger tip.

    ``import lightning`` gives the ``lightning`` logger a console handler of its own; where the
    application has configured the root logger (``molmtl``'s CLI does), every Lightning line would
    then print twice, once in each format. Without a root handler Lightning's own stays. Lightning
    also sets its loggers to INFO, which would pass its INFO lines to the root handlers under
    ``molmtl -q`` (root at WARNING); they follow the root logger's level instead.
    """
    root = logging.getLogger()
    if root.handlers:
        lightning_log = logging.getLogger("lightning")
        for handler in list(lightning_log.handlers):
            lightning_log.removeHandler(handler)
        for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(root.level)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if _no_litlogger_tip not in rank_zero.filters:
        rank_zero.addFilter(_no_litlogger_tip)


def _claim_run_folder(out: Path, *, resume: bool, overwrite: bool) -> list[Path]:
    """Refuse to train over an earlier run in ``out`` unless told to. Returns, with ``overwrite``,
    the earlier run's model file and checkpoints, for the caller to remove once the new run's data
    and model are built (so that none can pass for the new run's, and a failure before that point
    leaves them in place)."""
    earlier = [p for p in (out / "model.pt", out / "checkpoints" / "best.ckpt", out / "checkpoints" / "last.ckpt",
                           config_path(out)) if p.is_file()]
    if resume or not earlier:
        return []
    if not overwrite:
        raise InputError(f"{out} already holds a run ({earlier[0].relative_to(out)}); continue it with --resume, "
                         "replace it with --overwrite, or choose another --out")
    return [p for p in earlier if p.suffix != ".json"]  # config.json is rewritten, atomically


def train(config: TrainConfig, out_dir: str | Path, *, resume: bool = False, progress: bool = True,
          time_limit: float | None = None, overwrite: bool = False) -> TrainResult:
    """Train ``config`` and write the run folder ``out_dir``.

    Args:
        config: what to train.
        out_dir: the run folder (created).
        resume: continue from ``out_dir/checkpoints/last.ckpt`` (weights, optimizer, schedule,
            epoch counter); InputError if there is none.
        progress: show Lightning's progress bar (else one log line per epoch).
        time_limit: wall-clock budget in seconds for this call's training epochs: stop at the
            last epoch boundary inside it (``last.ckpt`` written; continue with ``resume=True``).
            The model file is still written, from the best checkpoint so far.
        overwrite: train over an earlier run in ``out_dir`` (its model file and checkpoints are
            removed first); without it (or ``resume``) such a folder is an InputError.
    """
    out = Path(out_dir)
    last = out / "checkpoints" / "last.ckpt"
    if time_limit is not None and not (time_limit > 0 and math.isfinite(time_limit)):
        raise InputError(f"time limit must be a positive number of seconds, got {time_limit}")
    if resume and overwrite:
        raise InputError("--resume continues a run and --overwrite replaces it; choose one")
    if resume and not last.is_file():
        raise InputError(f"cannot resume: {last} does not exist")
    main = rank_zero_only.rank == 0  # from the launcher's environment; DDP's other processes leave the folder alone
    replaced = _claim_run_folder(out, resume=resume, overwrite=overwrite) if main else []
    if config.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise InputError(f"accelerator {config.accelerator!r} needs a CUDA GPU, and torch sees none here; use cpu or auto")
    route_lightning_logs()
    L.seed_everything(config.seed, workers=True, verbose=False)
    enc = encoder_class(config)
    data = load_training_data(config, graph=enc.needs_graph, geometry=enc.needs_geometry)
    if len(data.train) == 0 or len(data.val) == 0:  # e.g. --geometry rdkit with geometries for part of QM9
        empty = "training" if len(data.train) == 0 else "validation"
        raise InputError(f"no {empty} molecule is left{' with an RDKit geometry' if config.geometry == 'rdkit' else ''}; "
                         + ("run 'molmtl data prepare --rdkit-geometries --force'" if config.geometry == "rdkit" else "use more data"))
    if not set(data.elements) <= set(config.elements):  # a CSV with Cl, S, ...: element tables grow
        config = config.replace(elements=tuple(sorted(set(config.elements) | set(data.elements))))
    strategy, balancer = build_strategy(config), build_balancer(config)
    if config.init_from and not resume:  # fine-tuning: its weights and target scaler (a resume has them in last.ckpt)
        scaler = start_from(config.init_from, strategy, config, data.split, data.smiles)
    else:
        scaler = fit_scaler(data.train, data.targets, config.normalization, config.max_z)
    log.info("training %s/%s/%s on %d molecules (%s), validating on %d", config.encoder, config.strategy,
             config.weighting, len(data.train), data.split.name, len(data.val))
    dm = MolDataModule(data, batch_size=config.batch_size, graph=enc.needs_graph, geometry=enc.needs_geometry,
                       num_workers=config.num_workers, seed=config.seed, device_data=config.device_data,
                       trim_to=config.trim_to, sort_window=config.sort_window)
    module = MTLModule(config, strategy, balancer, scaler, math.ceil(len(data.train) / config.batch_size))

    out.mkdir(parents=True, exist_ok=True)
    if replaced:
        log.warning("--overwrite: replacing the run in %s", out)
        for path in replaced:
            path.unlink(missing_ok=True)
    if main:
        with atomic_path(config_path(out)) as tmp:
            tmp.write_text(json.dumps(config.to_dict(), indent=2))
        data.split.save(out / "split.json")

    ckpt = L.pytorch.callbacks.ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor="val_loss",
                                               mode="min", save_top_k=1, enable_version_counter=False)
    # last.ckpt every epoch, from its own callback: Lightning's save_last=True writes it only in
    # epochs that improve the monitored loss, so a resume would go back to the best epoch
    last_ckpt = L.pytorch.callbacks.ModelCheckpoint(dirpath=out / "checkpoints", filename="last", monitor=None,
                                                    save_top_k=1, every_n_epochs=1, enable_version_counter=False)
    # the bar reads the logged loss from the device at each refresh (a host-device sync): every 10 steps
    callbacks = [ckpt, last_ckpt, L.pytorch.callbacks.TQDMProgressBar(refresh_rate=10) if progress else EpochLog()]
    if time_limit is not None:
        callbacks.append(TimeBudget(time_limit))
    if config.ema:
        callbacks.append(weight_average(config.ema))
    if config.early_stopping:
        callbacks.append(L.pytorch.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=config.early_stopping))
    loggers = [L.pytorch.loggers.CSVLogger(out, name="logs"),
               L.pytorch.loggers.TensorBoardLogger(out, name="tensorboard", default_hp_metric=False)]
    try:
        trainer = L.Trainer(
            max_epochs=config.epochs, accelerator=config.accelerator, devices=config.devices,
            precision=config.precision, callbacks=callbacks, logger=loggers, enable_progress_bar=progress,
            enable_model_summary=False, log_every_n_steps=max(1, min(50, module.steps_per_epoch)),
            num_sanity_val_steps=0, default_root_dir=out,
        )
    except (ValueError, TypeError, MisconfigurationException) as exc:  # devices/accelerator this machine lacks
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot train with accelerator={config.accelerator!r}, devices={config.devices!r} here: {first}") from None
    with warnings.catch_warnings():
        # Lightning 2.6's pytree helper uses an API torch >= 2.10 deprecates; nothing a user can change
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")
        if resume:  # the checkpoints being there is the point
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        try:
            trainer.fit(module, datamodule=dm, ckpt_path=str(last) if resume else None)
        except SystemExit:  # Lightning turns Ctrl-C into a graceful shutdown and exit(1)
            if not trainer.interrupted:
                raise
            log.warning("interrupted in epoch %d; the checkpoints of finished epochs are kept: continue with "
                        "molmtl train --out %s --resume", trainer.current_epoch + 1, out)
            raise KeyboardInterrupt from None

    if ckpt.best_model_path:  # the best-validation weights, not the last epoch's
        state = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
    release_compiled(module.strategy)
    model = TrainedModel(module.strategy.cpu(), module.scaler.cpu(), config).eval()
    path = out / "model.pt"
    if not trainer.is_global_zero:  # the main process alone evaluates the whole parts and writes the file
        return TrainResult(out, path, {}, model, is_main=False)
    metrics = {"epochs": int(trainer.current_epoch), "global_step": int(trainer.global_step),
               "best_checkpoint": Path(ckpt.best_model_path).name if ckpt.best_model_path else None}
    device = "cuda" if torch.cuda.is_available() and config.accelerator != "cpu" else "cpu"
    for part, ds in (("val", data.val), ("test", data.test)):
        if len(ds):
            y, p = predict_dataset(model, ds, device=device)
            metrics[part] = target_metrics(data.targets, y, p)
    model.cpu()
    metrics["val_loss_per_task"] = dict(zip(config.tasks, _validation_loss(model, data.val, config.loss)))
    weights = {k: config.weight_of(k) for k in config.tasks}  # the monitored loss's weighting
    metrics["val_loss"] = float(sum(weights[k] * v for k, v in metrics["val_loss_per_task"].items()) / sum(weights.values()))
    save_model(path, strategy=model.strategy, scaler=model.scaler, config=config, split=data.split, metrics=metrics)
    write_task_covariance(model.strategy, out)  # MRN: the learned task covariance beside the model file
    model.info = {"split": {"id": data.split.id, "name": data.split.name}, "metrics": metrics}
    return TrainResult(out, path, metrics, model)


__all__ = ["TrainResult", "train", "read_run_config", "route_lightning_logs", "build_balancer", "check_plugins"]
