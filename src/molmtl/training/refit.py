"""Refit some task heads of a trained model on its frozen shared encoder: minutes on a CPU.

What it is for: changing a head's readout without retraining the network, e.g. the dipole head
of a model saved before format 2, which added a bias after the norm (so methane, benzene and CO2
got the same nonzero dipole). The encoder's atom features for the training molecules are
computed once and kept in memory (float16), and only the chosen heads are trained on them
(AdamW, warm-up then cosine, the run's loss in normalized units), keeping the epoch with the
lowest validation MAE. The other heads, the encoder and the target normalization are untouched,
so every other prediction stays exactly as it was.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from molmtl.data.batching import collate
from molmtl.errors import CalculationError, InputError
from molmtl.inference import TrainedModel
from molmtl.models.base import AtomFeatures
from molmtl.mtl.base import masked_loss_sums
from molmtl.training.schedule import lr_factor

log = logging.getLogger(__name__)


@dataclass
class _Cached:
    feats: AtomFeatures  # float16 on CPU
    target: Tensor  # (B, K) normalized labels of the refit heads, NaN where missing


def _encoder_and_heads(model: TrainedModel, keys: Sequence[str]):
    strategy = model.strategy
    encoder, bank = getattr(strategy, "encoder", None), getattr(strategy, "heads", None)
    if encoder is None or not hasattr(bank, "head"):
        raise InputError(f"refitting heads needs one shared encoder with per-task heads (hard sharing); this model's "
                         f"strategy is {model.config.strategy!r}")
    unknown = [k for k in keys if k not in model.keys]
    if unknown or not keys:
        raise InputError(f"the heads to refit must be among the model's targets ({', '.join(model.keys)}); got "
                         f"{', '.join(keys) or 'none'}")
    return encoder, {k: bank.head(k) for k in keys}


@torch.no_grad()  # not inference_mode: the cached features feed the heads' autograd later
def _cache_features(model: TrainedModel, encoder, dataset, keys: Sequence[str], batch_size: int, what: str,
                    rows: np.ndarray | None = None) -> list[_Cached]:
    """The encoder's features of ``dataset`` (its ``rows``, default all) in size-sorted batches."""
    cols = [model.keys.index(k) for k in keys]
    rows = np.arange(len(dataset)) if rows is None else np.asarray(rows)
    sizes = (np.diff(np.asarray(dataset.offsets)) if hasattr(dataset, "offsets") else
             np.array([len(dataset[i]["z"]) for i in range(len(dataset))]))
    order = rows[np.argsort(sizes[rows], kind="stable")]
    out, t0 = [], time.perf_counter()
    for start in range(0, len(order), batch_size):
        batch = collate([dataset[int(i)] for i in order[start:start + batch_size]], graph=model.needs_graph,
                        geometry=model.needs_geometry)
        f = encoder(batch)
        half = AtomFeatures(h=f.h.half(), mask=f.mask, z=f.z, pos=None if f.pos is None else f.pos.float(),
                            vec=None if f.vec is None else f.vec.half())
        out.append(_Cached(half, model.scaler.normalize(batch.y, batch)[:, cols].clone()))
        if len(out) % 200 == 0:
            log.info("encoder features of the %s molecules: %d/%d (%.0f s)", what, start + len(batch), len(order),
                     time.perf_counter() - t0)
    return out


def _as_float(f: AtomFeatures) -> AtomFeatures:
    return AtomFeatures(h=f.h.float(), mask=f.mask, z=f.z, pos=f.pos, vec=None if f.vec is None else f.vec.float())


def _predict(heads: dict, cached: _Cached) -> Tensor:
    feats = _as_float(cached.feats)
    return torch.stack([h(feats).reshape(-1) for h in heads.values()], dim=1)


def _val_mae(heads: dict, val: list[_Cached]) -> np.ndarray:
    """Per-head MAE in normalized units over the validation batches."""
    with torch.no_grad():
        total = count = 0
        for c in val:
            t, n = masked_loss_sums(_predict(heads, c), c.target, "l1")
            total, count = total + t, count + n
    return (total / count.clamp(min=1)).numpy()


def refit_heads(model: TrainedModel, keys: Sequence[str], train, val, *, epochs: int = 4, lr: float = 1e-3,
                batch_size: int = 64, loss: str | None = None, max_molecules: int | None = None, seed: int = 0) -> dict:
    """Train ``keys``' heads of ``model`` (in place) on its frozen encoder; returns a report.

    ``max_molecules``: a random subset of that many training molecules (the cached features
    take about 20 kB per molecule for a 128-wide PaiNN).

    Dipole heads lose the bias after the norm (format 2). Returns ``{"heads", "epochs",
    "best_epoch", "val_mae_before", "val_mae_after"}`` (normalized units per head, the registry
    unit after multiplying by the target's scale) and the seconds spent.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if not lr > 0:
        raise InputError(f"the learning rate must be positive, got {lr}")
    keys = list(dict.fromkeys(keys))
    encoder, heads = _encoder_and_heads(model, keys)
    for k in keys:  # a norm is >= 0: with a shift under it nothing could reach labels below the shift
        if getattr(heads[k], "readout", None) == "dipole" and float(model.scaler.shift[model.keys.index(k)]) != 0.0:
            raise InputError(f"{k}'s normalization shifts it (z-score normalization): a dipole head without a bias "
                             "after its norm cannot fit it; retrain with the default normalization")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    model.eval()
    rows = None
    if max_molecules is not None and max_molecules < len(train):
        rows = np.sort(rng.choice(len(train), max_molecules, replace=False))
    train_c = _cache_features(model, encoder, train, keys, batch_size, "training", rows)
    val_c = _cache_features(model, encoder, val, keys, batch_size, "validation")
    scale = model.scaler.scale[[model.keys.index(k) for k in keys]].numpy()
    before = _val_mae(heads, val_c) * scale
    initial = {k: (copy.deepcopy(h.state_dict()), getattr(h, "dipole_bias", None)) for k, h in heads.items()}
    for h in heads.values():
        if getattr(h, "readout", None) == "dipole":
            h.dipole_bias = False
    params = [p for h in heads.values() for p in h.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    total_steps, warmup = epochs * len(train_c), max(1, len(train_c) // 20)
    kind = loss or model.config.loss
    best, best_state, best_epoch, step = math.inf, None, 0, 0
    history = []
    for epoch in range(1, epochs + 1):
        for h in heads.values():
            h.train()
        for i in rng.permutation(len(train_c)):
            for g in opt.param_groups:
                g["lr"] = lr * lr_factor(step, total_steps=total_steps, warmup_steps=warmup, min_ratio=0.01)
            total, count = masked_loss_sums(_predict(heads, train_c[i]), train_c[i].target, kind)
            opt.zero_grad(set_to_none=True)
            (total / count.clamp(min=1)).sum().backward()
            opt.step()
            step += 1
        for h in heads.values():
            h.eval()
        mae = _val_mae(heads, val_c) * scale
        history.append({k: float(v) for k, v in zip(keys, mae)})
        log.info("refit epoch %d/%d: validation MAE %s", epoch, epochs,
                 ", ".join(f"{k} {v:.4g}" for k, v in zip(keys, mae)))
        score = float(np.mean(mae / np.maximum(before, 1e-12)))
        if score < best:
            best, best_epoch = score, epoch
            best_state = {k: copy.deepcopy(h.state_dict()) for k, h in heads.items()}
    if best_state is None:  # every epoch's validation MAE was NaN: the training diverged
        for k, h in heads.items():
            h.load_state_dict(initial[k][0])
            if initial[k][1] is not None:
                h.dipole_bias = initial[k][1]
        raise CalculationError(f"refitting diverged (validation MAE not finite at learning rate {lr:g}); "
                               "try a smaller --lr")
    for k, h in heads.items():
        h.load_state_dict(best_state[k])
    model.strategy.eval()
    return {"heads": keys, "epochs": epochs, "best_epoch": best_epoch, "lr": lr, "loss": kind,
            "train_molecules": len(train) if rows is None else len(rows), "val_molecules": len(val),
            "val_mae_before": {k: float(v) for k, v in zip(keys, before)},
            "val_mae_after": history[best_epoch - 1], "history": history,
            "seconds": round(time.perf_counter() - t0, 1)}


#: Candidate widths (in units of the target's RMS) for :func:`fade_dipole_bias`.
FADE_WIDTHS = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5)


def fade_dipole_bias(model: TrainedModel, val, *, widths: Sequence[float] = FADE_WIDTHS,
                     batch_size: int = 64) -> dict:
    """Keep the dipole heads' bias after the norm (a model before format 2) but fade it in,
    :math:`b\,r^2/(r^2 + w^2)`, with the one width ``w`` (normalized units) that gives the lowest
    validation MAE (``w = 0`` is the bias as it was): a zero vector then gives 0 D. No training;
    the model's dipole heads are changed in place. Returns ``{"width": w, "val_mae": {key:
    {width: MAE in the target's unit}}}``."""
    from molmtl.models.heads import (
        biased_norm,  # lazy: only this readout change needs it
    )

    dipoles = [t.key for t in model.targets if t.readout == "dipole"]
    if not dipoles:
        raise InputError("this model has no dipole head")
    encoder, heads = _encoder_and_heads(model, dipoles)
    plain = [k for k, h in heads.items() if not h.dipole_bias]
    if plain:
        raise InputError(f"the {', '.join(plain)} head has no bias after the norm (format 2): nothing to fade")
    model.eval()
    cached = _cache_features(model, encoder, val, dipoles, batch_size, "validation")
    maes: dict[str, dict[float, float]] = {}
    with torch.no_grad():
        for j, (key, head) in enumerate(heads.items()):
            norms = torch.cat([head.dipole_vector(_as_float(c.feats)).norm(dim=-1) for c in cached])
            target = torch.cat([c.target[:, j] for c in cached])
            ok = torch.isfinite(target)
            scale = float(model.scaler.scale[model.keys.index(key)])
            maes[key] = {float(w): float((biased_norm(norms[ok], head.bias, w) - target[ok]).abs().mean()) * scale
                         for w in widths}
    relative = {float(w): sum(m[float(w)] / max(m[0.0] if 0.0 in m else 1.0, 1e-12) for m in maes.values())
                for w in widths}
    best = min(relative, key=lambda w: (round(relative[w], 9), -w))  # ties: the wider fade
    for key, head in heads.items():
        head.dipole_bias_width = best
        log.info("%s: bias %.4g faded in over %.3g (normalized); validation MAE %.4g (plain bias %.4g)", key,
                 float(head.bias.detach()) * float(model.scaler.scale[model.keys.index(key)]), best, maes[key][best],
                 maes[key].get(0.0, float("nan")))
    return {"width": best, "val_mae": maes}


__all__ = ["refit_heads", "fade_dipole_bias", "FADE_WIDTHS"]
