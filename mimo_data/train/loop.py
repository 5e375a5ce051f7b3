"""Train the decoder on packed shards, stage by stage, with checkpoints that resume exactly."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from mimo_data.train.checkpoint import (
    checkpoint_path,
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from mimo_data.train.config import StageSpec, TrainConfig, TrainConfigError
from mimo_data.train.data import StageDataError, StageReader, load_stage_rows, stage_vocab_size
from mimo_data.train.flops import flops_per_token, peak_flops
from mimo_data.train.model import ModelConfig, TransformerLM
from mimo_data.train.schedule import learning_rate, mtp_weight, stage_index

logger = logging.getLogger(__name__)

FINAL_LOSS_WINDOW = 10  # final_loss is the mean over this many last steps

__all__ = ["TrainConfig", "TrainConfigError", "TrainResult", "Trainer", "learning_rate_at", "train"]


@dataclass
class TrainResult:
    losses: list[float]  # total loss (main + lambda * MTP) per step of this run, in nats per token
    tokens_seen: int  # loss tokens trained on since step 0, resumed runs included
    first_loss: float
    final_loss: float  # mean of the last FINAL_LOSS_WINDOW losses
    main_losses: list[float] = field(default_factory=list)
    mtp_losses: list[float] = field(default_factory=list)  # per step; empty without MTP
    seq_lens: list[int] = field(default_factory=list)  # row length in tokens of each step's stage
    rope_thetas: list[float] = field(default_factory=list)  # RoPE base of each step
    stage_indices: list[int] = field(default_factory=list)  # 0-based stage of each step
    start_step: int = 0  # first step of this run: 0, or the checkpoint's step on resume
    seconds: float = 0.0
    tokens_per_second: float = 0.0  # input positions (padding included) per second of stepping
    mfu: float | None = None  # model FLOPs utilisation; None without a known peak


@dataclass
class _Stage:
    spec: StageSpec
    reader: StageReader
    seq_len: int  # stored or cropped row length in tokens
    rope_theta: float


def learning_rate_at(step: int, config: TrainConfig) -> float:
    return learning_rate(
        step, lr=config.lr, steps=config.steps, warmup_steps=config.warmup_steps,
        decay_steps=config.decay_steps, min_lr_ratio=config.min_lr_ratio,
    )


class Trainer:
    """One training run: stages, model, optimiser and counters, built from a TrainConfig."""

    def __init__(self, config: TrainConfig, *, log: Callable[[str], None] = print):
        self.config = config
        self.log = log
        if config.use_cuda and not torch.cuda.is_available():
            raise TrainConfigError(f"TrainConfig.device is {config.device!r}, but torch finds no CUDA device; use --device cpu")
        torch.manual_seed(config.seed)

        # 1. Stages: every stage's rows are held in memory, which suits the small stages this trainer is for.
        self.stages = [self._load_stage(spec, index) for index, spec in enumerate(config.stage_specs())]
        vocab_size = self._common_vocab_size()

        # 2. Model, optimiser and the compiled forward.
        self.model = TransformerLM(self._model_config(vocab_size)).to(config.device)
        self.model.set_rope(self.stages[0].rope_theta)
        self.optimizer = self._optimizer()
        self.forward = torch.compile(self.model) if config.resolved_compile() else self.model

        # 3. Counters, restored from a checkpoint when resuming.
        self.step = 0
        self.tokens_seen = 0
        self.tokens_processed = 0
        self.stage_index = 0
        if config.resume:
            self._restore(config.resume)
        self.peak = peak_flops(config.device, config.peak_tflops)

    def _load_stage(self, spec: StageSpec, index: int) -> _Stage:
        rows = load_stage_rows(spec.shards, spec.seq_len)
        seq_len = rows["input_ids"].shape[1]
        # Each stage gets its own stream seed, so stages do not share a shuffle order.
        reader = StageReader(rows, batch_size=self.config.batch_size, seed=self.config.seed + index, device=self.config.device)
        return _Stage(spec=spec, reader=reader, seq_len=seq_len, rope_theta=spec.rope_base(seq_len))

    def _common_vocab_size(self) -> int:
        sizes = {stage.spec.shards: stage_vocab_size(stage.spec.shards, stage.reader.rows) for stage in self.stages}
        if len(set(sizes.values())) > 1:
            raise StageDataError(f"stages use different vocabularies: {sizes}; train on shards of one tokenizer")
        return next(iter(sizes.values()))

    def _model_config(self, vocab_size: int) -> ModelConfig:
        config = self.config
        return ModelConfig(
            vocab_size=vocab_size, d_model=config.d_model, n_layers=config.n_layers, n_heads=config.n_heads,
            n_kv_heads=config.n_kv_heads, ffn_hidden=config.ffn_hidden, qkv_bias=config.qkv_bias,
            tie_embeddings=config.tie_embeddings, max_seq_len=max(stage.seq_len for stage in self.stages),
            mtp_layers=config.mtp_layers, doc_attention=config.doc_attention, attention=config.resolved_attention(),
        )

    def _optimizer(self) -> torch.optim.AdamW:
        # Weight decay on matrices and embedding tables only; norms and biases are left undecayed.
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": self.config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(
            groups, lr=self.config.lr, betas=(self.config.beta1, self.config.beta2),
            fused=self.config.resolved_fused_adamw() or None,
        )

    # Checkpoints.

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "model_config": asdict(self.model.config),
            "train_config": asdict(self.config),
            "step": self.step,
            "tokens_seen": self.tokens_seen,
            "tokens_processed": self.tokens_processed,
            "stage_index": self.stage_index,
            "readers": [stage.reader.state_dict() for stage in self.stages],
            "rng": rng_state(),
        }

    def save(self) -> None:
        if self.config.checkpoint_dir:
            save_checkpoint(checkpoint_path(self.config.checkpoint_dir, self.step), self.state_dict())

    def _restore(self, path: str) -> None:
        state = load_checkpoint(path, self.model.config)
        if len(state["readers"]) != len(self.stages):
            raise StageDataError(f"checkpoint {path} has {len(state['readers'])} stages, this config has {len(self.stages)}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for stage, reader_state in zip(self.stages, state["readers"]):
            stage.reader.load_state_dict(reader_state)
        self.step, self.tokens_seen = state["step"], state["tokens_seen"]
        self.tokens_processed, self.stage_index = state["tokens_processed"], state["stage_index"]
        self.model.set_rope(self.stages[self.stage_index].rope_theta)
        restore_rng_state(state["rng"])
        self.log(f"resumed from {path} at step {self.step}, {self.tokens_seen} tokens, stage {self.stage_index + 1}")

    # Steps.

    def _switch_stage(self) -> _Stage:
        """Move to the stage that the tokens trained so far call for, resetting the RoPE base on a switch."""
        index = stage_index(self.tokens_seen, [stage.spec.tokens for stage in self.stages])
        if index != self.stage_index:
            old, new = self.stages[self.stage_index], self.stages[index]
            self.model.set_rope(new.rope_theta)
            self.log(
                f"stage {self.stage_index + 1} -> {index + 1} at step {self.step}, {self.tokens_seen} tokens: "
                f"seq_len {old.seq_len} -> {new.seq_len}, rope_theta {old.rope_theta:g} -> {new.rope_theta:g}"
            )
            self.stage_index = index
        return self.stages[self.stage_index]

    def _autocast(self):
        if self.config.resolved_dtype() == "bfloat16":
            return torch.autocast(device_type=torch.device(self.config.device).type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step(self) -> dict[str, float]:
        """Run one optimiser step over ``grad_accum_steps`` micro-batches and return its losses."""
        stage = self._switch_stage()
        lr = learning_rate_at(self.step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        weight = mtp_weight(self.tokens_seen, self.config.mtp_schedule)
        # A tensor, because torch.compile guards on the value of a float argument and would
        # compile the model again when the MTP schedule changes lambda.
        weight_tensor = torch.tensor(weight, device=self.config.device)
        accum = self.config.grad_accum_steps

        totals = {"loss": 0.0, "main": 0.0, "mtp": 0.0}
        self.optimizer.zero_grad(set_to_none=True)
        for _ in range(accum):
            batch = stage.reader.next_batch()
            mask = self.model.attention_mask(batch.segment_ids)
            with self._autocast():
                output = self.forward(batch.input_ids, batch.targets, mask=mask, mtp_weight=weight_tensor)
            (output.loss / accum).backward()

            totals["loss"] += output.loss.item() / accum
            totals["main"] += output.main_loss.item() / accum
            if output.mtp_loss is not None:
                totals["mtp"] += output.mtp_loss.item() / accum
            self.tokens_seen += int(batch.loss_mask.sum().item())
            self.tokens_processed += batch.input_ids.numel()

        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.step += 1
        return {**totals, "lr": lr, "mtp_weight": weight, "seq_len": stage.seq_len, "rope_theta": stage.rope_theta}

    def run(self) -> TrainResult:
        """Step until ``config.steps``, logging and checkpointing on the configured intervals."""
        config = self.config
        result = TrainResult(losses=[], tokens_seen=0, first_loss=float("nan"), final_loss=float("nan"), start_step=self.step)
        self.log(f"model: {self.model.num_parameters():,} parameters, vocab {self.model.config.vocab_size}, "
                 f"{len(self.stages)} stage(s), {config.resolved_attention()} attention, {config.resolved_dtype()}, "
                 f"{'compiled' if config.resolved_compile() else 'eager'}")
        started = time.perf_counter()
        window_start, window_tokens = started, self.tokens_processed

        while self.step < config.steps:
            stats = self.train_step()
            _record(result, stats, self.stage_index, has_mtp=self.model.mtp is not None)
            if self.step % config.log_every == 0 or self.step == config.steps:
                now = time.perf_counter()
                rate = (self.tokens_processed - window_tokens) / max(now - window_start, 1e-9)
                self.log(self._log_line(stats, rate))
                window_start, window_tokens = now, self.tokens_processed
            if config.checkpoint_every and self.step % config.checkpoint_every == 0 and self.step < config.steps:
                self.save()

        self.save()
        return self._finish(result, time.perf_counter() - started)

    def _log_line(self, stats: dict, tokens_per_second: float) -> str:
        mfu = self.mfu(tokens_per_second, stats["seq_len"])
        mtp = f"  mtp {stats['mtp']:.4f} (lambda {stats['mtp_weight']:g})" if self.model.mtp is not None else ""
        return (
            f"step {self.step:5d}  stage {self.stage_index + 1}  seq {stats['seq_len']}  loss {stats['loss']:.4f}  "
            f"main {stats['main']:.4f}{mtp}  lr {stats['lr']:.2e}  tokens {self.tokens_seen}  "
            f"tok/s {tokens_per_second:,.0f}  mfu {'n/a' if mfu is None else f'{mfu:.1%}'}"
        )

    def mfu(self, tokens_per_second: float, seq_len: int) -> float | None:
        """Model FLOPs utilisation at ``tokens_per_second`` input positions on ``seq_len``-token rows."""
        if self.peak is None:
            return None
        return flops_per_token(self.model, seq_len - 1) * tokens_per_second / self.peak

    def _finish(self, result: TrainResult, seconds: float) -> TrainResult:
        result.tokens_seen = self.tokens_seen
        result.seconds = seconds
        if result.losses:
            result.first_loss = result.losses[0]
            result.final_loss = sum(result.losses[-FINAL_LOSS_WINDOW:]) / len(result.losses[-FINAL_LOSS_WINDOW:])
            steps_tokens = (self.config.batch_size * self.config.grad_accum_steps) * sum(s - 1 for s in result.seq_lens)
            result.tokens_per_second = steps_tokens / max(seconds, 1e-9)
            result.mfu = self.mfu(result.tokens_per_second, result.seq_lens[-1])
        return result


def _record(result: TrainResult, stats: dict, stage: int, *, has_mtp: bool) -> None:
    result.losses.append(stats["loss"])
    result.main_losses.append(stats["main"])
    if has_mtp:
        result.mtp_losses.append(stats["mtp"])
    result.seq_lens.append(stats["seq_len"])
    result.rope_thetas.append(stats["rope_theta"])
    result.stage_indices.append(stage)


def train(config: TrainConfig, *, log: Callable[[str], None] = print) -> TrainResult:
    """Train (or resume) a model for ``config.steps`` steps and return the loss curve."""
    return Trainer(config, log=log).run()
