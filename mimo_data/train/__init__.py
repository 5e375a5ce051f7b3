"""A small decoder-only language model trained on a stage's packed shards."""

from mimo_data.train.loop import TrainConfig, TrainResult, train
from mimo_data.train.model import ModelConfig, TransformerLM

__all__ = ["ModelConfig", "TrainConfig", "TrainResult", "TransformerLM", "train"]
