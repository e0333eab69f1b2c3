"""Training and evaluation (Lightning; DDP-ready).

The names below are imported on first use (PEP 562), so that ``import molmtl.training`` does not
import Lightning. Model files and predictions are :mod:`molmtl.inference`'s; the configuration is
:mod:`molmtl.config`'s.
"""

from importlib import import_module

_HOMES = {
    "lr_factor": "schedule", "PROTOCOLS": "protocols", "protocol_config": "protocols",
    "TrainResult": "run", "train": "run",
}

__all__ = ["TrainResult", "PROTOCOLS", "lr_factor", "protocol_config", "train"]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
