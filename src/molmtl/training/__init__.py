"""Training and evaluation (Lightning; DDP-ready).

The names below are imported on first use (PEP 562), so that ``import molmtl.training`` does not
import Lightning. Model files and predictions are :mod:`molmtl.inference`'s; the configuration is
:mod:`molmtl.config`'s.
"""

from molmtl.lazy import lazy_exports

_HOMES = {
    "lr_factor": "schedule", "PROTOCOLS": "protocols", "protocol_config": "protocols",
    "TrainResult": "run", "train": "run",
}

__all__ = ["TrainResult", "PROTOCOLS", "lr_factor", "protocol_config", "train"]

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
