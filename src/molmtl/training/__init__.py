"""Training, evaluation and model files (Lightning; DDP-ready).

The names below are imported on first use (PEP 562), so that loading a model file for a
prediction does not import Lightning.
"""

from importlib import import_module

_HOMES = {
    "TrainConfig": "config", "lr_factor": "config",
    "TrainedModel": "modelfile", "load_model": "modelfile", "save_model": "modelfile",
    "PROTOCOLS": "protocols", "protocol_config": "protocols",
    "TrainResult": "run", "train": "run",
}

__all__ = ["TrainConfig", "TrainResult", "TrainedModel", "PROTOCOLS", "load_model", "lr_factor", "protocol_config",
           "save_model", "train"]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
