"""A calibration in its model file: the optional top-level key ``"uncertainty"``.

The model file is read as a plain dict (``molmtl.inference.read_model_file``), the key set or
replaced, every other key kept as it was, and the file written atomically (a crash leaves the
old file), as ``molmtl.inference.save_model`` writes it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from molmtl.data.cache import atomic_path
from molmtl.inference import model_path, read_model_file
from molmtl.uncertainty.calibration import Calibration

KEY = "uncertainty"


def write_calibration(path: str | Path, calibration: Calibration | None) -> Path:
    """Store ``calibration`` in the model file ``path`` (a run folder: its ``model.pt``); None
    removes a stored one. Returns the model file's path."""
    path = model_path(path)
    body = read_model_file(path)
    if calibration is None:
        body.pop(KEY, None)
    else:
        body[KEY] = calibration.to_dict()
    with atomic_path(path) as tmp:
        torch.save(body, tmp)
    return path


__all__ = ["write_calibration", "KEY"]
