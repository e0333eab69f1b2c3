"""Blend a companion model's predictions into some outputs of a model (``molmtl blend``).

For each chosen target k the blended model predicts

    y_k = (1 - w_k) * own_k + w_k * companion_k

before the physics relations (:mod:`molmtl.physics`), with w_k the grid value (0, 0.05, ..., 1)
of lowest MAE on the model's validation part: w_k = 0 keeps the model's own output, 1 takes the
companion's. For a dipole moment read out as the norm of a vector (a 3D model), the companion's
share also fades where the model's own norm vanishes (:func:`molmtl.inference.blended`; the fade
width e_k from :data:`FADES`, chosen with w_k): a molecule whose symmetry forbids a dipole
(methane, benzene, CO2, trans-difluoroethene) keeps its 0 D, which a 2D model cannot know. What it is for: two models that err differently. The SMILES model reads an MMFF
conformer, which for a flexible molecule is often not QM9's, and its dipole head errs most for
those; a 2D encoder (no geometry) has no conformer to get wrong but errs on rigid molecules that
the geometry pins down. Both must have been trained on the same split (else the companion has
seen the model's validation or test molecules). A model can blend in several companions, each for
other targets (a 2D model's dipole, another's orbital energies); a target is blended once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Subset

from molmtl.errors import InputError
from molmtl.inference import TrainedModel, blended, check_companion, predict_dataset
from molmtl.training.data import model_data

log = logging.getLogger(__name__)

#: The blend weights tried (the companion's share).
GRID = np.round(np.linspace(0.0, 1.0, 21), 2)
#: Fade widths tried for a dipole norm (the target's registry unit, D): never 0, so that a vanishing
#: vector keeps 0 D whatever the validation part prefers.
FADES = (0.001, 0.003, 0.01, 0.03, 0.1)


def _raw(model: TrainedModel) -> TrainedModel:
    """The model's own heads' outputs (no companions, no physics relations)."""
    return TrainedModel(model.strategy, model.scaler, model.config, model.info, relations=False).eval()


def _mae(pred: np.ndarray, label: np.ndarray) -> float:
    ok = np.isfinite(label)
    return float(np.abs(pred[ok] - label[ok]).mean()) if ok.any() else float("nan")


def fit_blend(model: TrainedModel, companion: TrainedModel, keys: Sequence[str], *, geometry: str | None = None,
              limit: int | None = None) -> tuple[dict[str, float], dict[str, float], dict]:
    """``({key: weight}, {key: fade}, report)``: the companion's share of each of ``keys`` (and for
    a dipole norm the fade width) that gives the lowest validation MAE (the model's split, with
    ``geometry`` for a QM9 model; ``limit``: its first molecules only). The report gives, per key and
    in display units, the validation MAE of the model, of the companion and of the blend."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        raise InputError("name at least one target to blend (--keys mu)")
    taken = sorted(set(keys) & {k for w in model.companion_weights for k in w})
    if taken:
        raise InputError(f"this model already blends {', '.join(taken)} from a companion; blend into the model it "
                         "was made from, or choose other targets")
    check_companion(model, companion, {k: 0.0 for k in keys})
    ours, theirs = (model.info.get("split") or {}).get("id"), (companion.info.get("split") or {}).get("id")
    if ours is None or ours != theirs:
        raise InputError(f"the two models were trained on different splits ({ours} vs {theirs}): the companion may "
                         "have seen the model's validation or test molecules; train it on the same split")
    probe = TrainedModel(model.strategy, model.scaler, model.config, model.info,
                         companions=[*model.blends(), (companion, {k: 0.0 for k in keys})])
    _, data = model_data(probe, geometry)  # molecules with what both read (graphs, positions)
    val = data.val if limit is None or limit >= len(data.val) else Subset(data.val, range(limit))
    if len(val) == 0:
        raise InputError("the validation part of this model's split is empty")
    labels, own = predict_dataset(_raw(model), val)
    _, other = predict_dataset(_raw(companion), val)
    weights, fades, rows = {}, {}, {}
    for key in keys:
        i, j = model.keys.index(key), companion.keys.index(key)
        norm = model.targets[i].readout == "dipole" and model.needs_geometry and not companion.needs_geometry
        a, b = torch.from_numpy(own[:, i]), torch.from_numpy(other[:, j])
        trials = [(float(w), float(e), _mae(blended(a, b, float(w), float(e)).numpy(), labels[:, i]))
                  for e in (FADES if norm else (0.0,)) for w in GRID]
        w, e, best = min(trials, key=lambda t: (np.inf if np.isnan(t[2]) else t[2], t[1]))
        weights[key] = w
        if e > 0:
            fades[key] = e
        show = model.targets[i].to_display
        rows[key] = {"weight": w, "fade": e, "unit": model.targets[i].display_unit,
                     "val_mae_model": float(show(_mae(own[:, i], labels[:, i]))),
                     "val_mae_companion": float(show(_mae(other[:, j], labels[:, i]))),
                     "val_mae_blend": float(show(best))}
        log.info("blend %s: companion weight %.2f (fade %g); validation MAE %.4g (model) / %.4g (companion) -> %.4g %s",
                 key, w, e, rows[key]["val_mae_model"], rows[key]["val_mae_companion"], rows[key]["val_mae_blend"],
                 rows[key]["unit"])
    return weights, fades, {"keys": rows, "n_val": len(val), "geometry": (geometry or model.config.geometry)}


__all__ = ["FADES", "GRID", "fit_blend"]
