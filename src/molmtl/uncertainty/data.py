"""A model's predictions and embeddings on its own split: what calibration fits and reports on.

:func:`split_outputs` rebuilds the model's split (``molmtl.training.data.model_data``,
the datasets training and ``molmtl evaluate`` use; checked against the split id in the model
file) and predicts three sets: a seeded subsample of the training part (the reference set of
the latent distance), the validation part (where every fit is made) and the test part (where
it is reported). The arrays can be cached in a folder, keyed by the model's weights (not its
file: writing the calibration into the file must not invalidate them), the geometry, the part
and its size, and checked on a few molecules before use, so a benchmark rerun on an unchanged
model predicts almost nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from molmtl.data.cache import atomic_path
from molmtl.errors import InputError
from molmtl.inference import TrainedModel, predict_dataset
from molmtl.training.data import model_data

log = logging.getLogger(__name__)

#: Training molecules in the latent-distance reference set (a seeded subsample of the training part).
REFERENCE_SIZE = 20_000
PARTS = ("reference", "val", "test")
CACHE_VERSION = "v1"


@dataclass
class PartOutputs:
    """Labels and predictions ``(n, T)`` (float64, registry units) and embeddings ``(n, E)`` (float32)
    of one set of molecules; ``rows`` are their positions in their split part."""

    labels: np.ndarray
    preds: np.ndarray
    emb: np.ndarray
    rows: np.ndarray

    @property
    def residuals(self) -> np.ndarray:
        """``preds - labels`` (NaN where a label is missing)."""
        return self.preds - self.labels


def weights_digest(model: TrainedModel, *extra) -> str:
    """A hex digest of the model's weights, normalization, targets and split id (and its
    companions' weights and blend weights), plus ``extra``
    (anything JSON writes): the same for a model file before and after its calibration is
    written, and for a newer molmtl reading the same file (its config may gain fields)."""
    h = hashlib.sha256()
    parts = [model, *model.companions]
    for state in (s for m in parts for s in (m.strategy.state_dict(), m.scaler.state_dict())):
        for k, v in sorted(state.items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    split = (model.info.get("split") or {}).get("id")
    h.update(json.dumps([list(model.keys), split, model.companion_weights, model.companion_fades, *extra], sort_keys=True,
                        default=str).encode())
    return h.hexdigest()[:20]


def split_outputs(model: TrainedModel, *, geometry: str | None = None, parts: Sequence[str] = PARTS,
                  reference_size: int = REFERENCE_SIZE, limit: int | None = None, seed: int = 0,
                  cache: str | Path | None = None, device: str | None = None) -> dict[str, PartOutputs]:
    """Predictions and embeddings of ``model`` on ``parts`` of its own split: ``reference``
    (``reference_size`` training molecules, drawn with ``seed``), ``train``, ``val``, ``test``.

    Args:
        geometry: ``qm9`` or ``rdkit`` for a QM9 model (default: the geometries it was trained on).
        limit: only the first ``limit`` molecules of each part (and at most ``limit`` reference
            molecules): a quick look, or a test.
        cache: a folder for the arrays (one ``.npz`` per model, geometry, part and size), or None.
            A cached part is used only if the model still gives its first molecules' predictions
            and embeddings (code that changes what a model predicts changes no weights).
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"the molecule limit must be a positive whole number, got {limit!r}")
    unknown = [p for p in parts if p not in ("reference", "train", "val", "test")]
    if unknown:
        raise InputError(f"unknown split part {unknown[0]!r}; use reference, train, val or test")
    config, data = model_data(model, geometry)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = {}
    for name in parts:
        dataset = data.train if name == "reference" else getattr(data, name)
        if name == "reference":
            n = min(reference_size, limit or reference_size, len(dataset))
            idx = np.sort(np.random.default_rng(seed).choice(len(dataset), size=n, replace=False))
        else:
            idx = np.arange(min(len(dataset), limit or len(dataset)))
        if len(idx) == 0:
            raise InputError(f"the {name} part of this model's split is empty")
        path = None
        if cache is not None:
            key = weights_digest(model, config.geometry, name, len(idx), limit, seed, CACHE_VERSION)
            path = Path(cache) / f"outputs-{key}.npz"
            cached = _read_cached(path, model, dataset, device)
            if cached is not None:
                out[name] = cached
                continue
        log.info("predicting %d %s molecules with embeddings", len(idx), name)
        y, p, e = predict_dataset(model, Subset(dataset, idx.tolist()), embeddings=True, device=device)
        if e.shape[1] == 0:
            raise InputError(f"the {model.config.strategy} strategy gives no molecule embedding; the latent "
                             "uncertainty needs one")
        out[name] = PartOutputs(y, p, e, idx.astype(np.int64))
        if path is not None:
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **{k: getattr(out[name], k) for k in ("labels", "preds", "emb", "rows")})
    return out


#: Molecules a cached part is checked on before it is used.
_PROBE = 16


def _read_cached(path: Path, model: TrainedModel, dataset, device) -> PartOutputs | None:
    if not path.is_file():
        return None
    with np.load(path) as f:
        part = PartOutputs(*(f[k] for k in ("labels", "preds", "emb", "rows")))
    probe = part.rows[:_PROBE].tolist()
    _, p, e = predict_dataset(model, Subset(dataset, probe), embeddings=True, device=device)
    if np.allclose(p, part.preds[:_PROBE], rtol=1e-5, atol=1e-6) and np.allclose(e, part.emb[:_PROBE], rtol=1e-4, atol=1e-5):
        log.info("predictions and embeddings of %d molecules read from %s", len(part.rows), path)
        return part
    log.info("%s no longer matches what the model predicts (its code changed); predicting again", path)
    return None


__all__ = ["PartOutputs", "split_outputs", "weights_digest", "REFERENCE_SIZE"]
