"""Train the small transformer on one stage of packed shards."""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from mimo_data.train.data import iter_batches, load_stage_rows, stage_vocab_size
from mimo_data.train.model import ModelConfig, TransformerLM

FINAL_LOSS_WINDOW = 10  # final_loss is the mean over this many last steps


class TrainConfigError(ValueError):
    """A TrainConfig field has an invalid value."""


@dataclass(kw_only=True)
class TrainConfig:
    shards: str  # stage folder with part-*.parquet and, ideally, manifest.json
    steps: int  # optimizer steps
    batch_size: int = 8  # rows per step
    seq_len: int | None = None  # crop rows to this many tokens; None keeps the stored length
    lr: float = 3e-3  # peak AdamW learning rate
    warmup_steps: int = 10  # linear warmup, then cosine decay to lr / 10 at the last step
    weight_decay: float = 0.1
    grad_clip: float = 1.0  # max global gradient norm
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    mtp_layers: int = 0  # 1 adds the MTP block that predicts token t+2
    mtp_weight: float = 0.3
    doc_attention: bool = True  # attention only within a document
    seed: int = 0
    device: str = "cpu"
    log_every: int = 10  # steps between log lines
    checkpoint: str | None = None  # path of a torch.save file written after the last step

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "d_model", "n_layers", "n_heads", "log_every"):
            if getattr(self, name) < 1:
                raise TrainConfigError(f"TrainConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.seq_len is not None and self.seq_len < 2:
            raise TrainConfigError(f"TrainConfig.seq_len must be at least 2 or None, got {self.seq_len}")
        if not self.lr > 0:
            raise TrainConfigError(f"TrainConfig.lr must be positive, got {self.lr}")
        if self.warmup_steps < 0:
            raise TrainConfigError(f"TrainConfig.warmup_steps must be non-negative, got {self.warmup_steps}")


@dataclass
class TrainResult:
    losses: list[float]  # total training loss per step, in nats per token
    tokens_seen: int  # target tokens that counted toward the loss
    first_loss: float
    final_loss: float  # mean of the last FINAL_LOSS_WINDOW losses
    mtp_losses: list[float] = field(default_factory=list)  # per step; empty without MTP
    seconds: float = 0.0


def learning_rate(step: int, config: TrainConfig) -> float:
    """Return the learning rate of 0-based ``step``: linear warmup, then cosine decay to lr / 10."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    decay_steps = max(1, config.steps - config.warmup_steps - 1)
    progress = min(1.0, (step - config.warmup_steps) / decay_steps)
    return config.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def build_model(config: TrainConfig, vocab_size: int, seq_len: int) -> TransformerLM:
    model_config = ModelConfig(
        vocab_size=vocab_size,
        d_model=config.d_model,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        max_seq_len=seq_len,
        mtp_layers=config.mtp_layers,
        mtp_weight=config.mtp_weight,
        doc_attention=config.doc_attention,
    )
    return TransformerLM(model_config).to(config.device)


def train(config: TrainConfig, *, log: Callable[[str], None] = print) -> TrainResult:
    """Train a fresh model for ``config.steps`` steps and return the loss curve."""
    started = time.perf_counter()
    torch.manual_seed(config.seed)

    # 1. Data and model.
    rows = load_stage_rows(config.shards, config.seq_len)
    vocab_size = stage_vocab_size(config.shards, rows)
    model = build_model(config, vocab_size, rows["input_ids"].shape[1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.95))
    batches = iter_batches(rows, batch_size=config.batch_size, seed=config.seed, device=config.device)
    log(f"model: {model.num_parameters():,} parameters, vocab {vocab_size}, {len(rows['input_ids'])} rows")

    # 2. Steps.
    losses: list[float] = []
    mtp_losses: list[float] = []
    tokens_seen = 0
    model.train()
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        batch = next(batches)

        output = model(batch.input_ids, batch.targets, batch.segment_ids)
        optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()

        losses.append(output.loss.item())
        if output.mtp_loss is not None:
            mtp_losses.append(output.mtp_loss.item())
        tokens_seen += int(batch.loss_mask.sum().item())
        if step % config.log_every == 0 or step == config.steps - 1:
            log(f"step {step:5d}  loss {losses[-1]:.4f}  lr {optimizer.param_groups[0]['lr']:.2e}  tokens {tokens_seen}")

    # 3. Result and checkpoint.
    if config.checkpoint:
        save_checkpoint(config.checkpoint, model, config, step=config.steps)
    final_loss = sum(losses[-FINAL_LOSS_WINDOW:]) / len(losses[-FINAL_LOSS_WINDOW:])
    return TrainResult(
        losses=losses,
        tokens_seen=tokens_seen,
        first_loss=losses[0],
        final_loss=final_loss,
        mtp_losses=mtp_losses,
        seconds=time.perf_counter() - started,
    )


def save_checkpoint(path: str | os.PathLike, model: TransformerLM, config: TrainConfig, *, step: int) -> Path:
    """Save model weights and both configs with torch.save, via a temporary file and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(path.name + ".tmp")
    state = {
        "model": model.state_dict(),
        "model_config": asdict(model.config),
        "train_config": asdict(config),
        "step": step,
    }
    torch.save(state, tmp_path)
    os.replace(tmp_path, path)
    return path
