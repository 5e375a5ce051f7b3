"""Checkpoints that resume a run exactly: weights, optimiser, data position, RNG and counters."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

# Fields that fix the weights' shapes; the RoPE base and table size change with the stage.
ARCHITECTURE_FIELDS = (
    "vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_hidden",
    "qkv_bias", "tie_embeddings", "mtp_layers",
)


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not match the model being resumed."""


def checkpoint_path(checkpoint_dir: str | os.PathLike, step: int) -> Path:
    return Path(checkpoint_dir) / f"step-{step:06d}.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` with torch.save under a temporary name, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(path.name + ".tmp")
    torch.save(state, tmp_path)
    os.replace(tmp_path, path)
    logger.info("checkpoint written: %s (step %d)", path, state["step"])
    return path


def load_checkpoint(path: str | os.PathLike, model_config) -> dict[str, Any]:
    """Load a checkpoint and check that it was written for a model of ``model_config``'s shape."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError) as error:
        raise CheckpointError(f"checkpoint {path} cannot be read: {error}") from error

    saved = state.get("model_config", {})
    current = asdict(model_config)
    mismatched = {name: (saved.get(name), current[name]) for name in ARCHITECTURE_FIELDS if saved.get(name) != current[name]}
    if mismatched:
        details = ", ".join(f"{name} saved {old!r} vs now {new!r}" for name, (old, new) in mismatched.items())
        raise CheckpointError(f"checkpoint {path} is for another model shape: {details}; resume with the same model settings")
    return state


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
