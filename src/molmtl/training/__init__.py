"""Training, evaluation and model files (Lightning; DDP-ready)."""

from molmtl.training.config import TrainConfig, lr_factor
from molmtl.training.modelfile import TrainedModel, load_model, save_model
from molmtl.training.protocols import PROTOCOLS, protocol_config
from molmtl.training.run import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "TrainedModel", "PROTOCOLS", "load_model", "lr_factor", "protocol_config",
           "save_model", "train"]
