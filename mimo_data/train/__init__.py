"""A MiMo-style decoder with MTP, trained stage by stage on packed shards."""

from mimo_data.train.config import PRESETS, StageSpec, TrainConfig, TrainConfigError, load_train_config
from mimo_data.train.loop import Trainer, TrainResult, train
from mimo_data.train.model import ModelConfig, TransformerLM

__all__ = [
    "PRESETS", "ModelConfig", "StageSpec", "TrainConfig", "TrainConfigError", "TrainResult", "Trainer",
    "TransformerLM", "load_train_config", "train",
]
