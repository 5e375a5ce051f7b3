"""Training configuration: the stage schedule, the loop settings, presets and YAML files."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mimo_data.train.model import ATTENTION_KINDS

# The MiMo-7B recipe uses RoPE base 10,000 for its 8,192-token stages and 640,000 for its
# 32,768-token stage.
SHORT_CONTEXT_ROPE_THETA = 10_000.0
LONG_CONTEXT_ROPE_THETA = 640_000.0
SHORT_CONTEXT_MAX_LEN = 8192


class TrainConfigError(ValueError):
    """A training config field has an invalid value, or a config file cannot be read."""


@dataclass(kw_only=True)
class StageSpec:
    shards: str  # stage folder with part-*.parquet and manifest.json
    seq_len: int | None = None  # crop rows to this many tokens; None keeps the stored length
    rope_theta: float | None = None  # RoPE base; None: 10,000 up to 8,192 tokens, else 640,000
    tokens: int | None = None  # loss tokens to train on before the next stage; None: until the run ends

    def rope_base(self, seq_len: int) -> float:
        if self.rope_theta is not None:
            return self.rope_theta
        return SHORT_CONTEXT_ROPE_THETA if seq_len <= SHORT_CONTEXT_MAX_LEN else LONG_CONTEXT_ROPE_THETA


@dataclass(kw_only=True)
class TrainConfig:
    # Data: either one stage folder (`shards`, `seq_len`, `rope_theta`) or a stage schedule.
    shards: str | None = None
    # seq_len and rope_theta apply to `shards` only; each entry of `stages` sets its own.
    seq_len: int | None = None  # crop `shards` rows to this many tokens; None keeps the stored length
    rope_theta: float | None = None  # RoPE base for `shards`; None follows StageSpec.rope_base
    stages: tuple[StageSpec, ...] = ()  # stage 1, 2, 3 ..., switching after each stage's `tokens`

    # Optimisation.
    steps: int = 100  # optimizer steps
    batch_size: int = 8  # sequences per micro-batch
    grad_accum_steps: int = 1  # micro-batches per optimizer step
    lr: float = 3e-3  # peak AdamW learning rate
    min_lr_ratio: float = 0.1  # the cosine phase ends at lr * min_lr_ratio
    warmup_steps: int = 10  # linear warmup from lr / warmup_steps to lr
    decay_steps: int | None = None  # cosine steps at the end; None: every step after warmup
    weight_decay: float = 0.1  # AdamW, on matrices and embeddings only
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # max global gradient norm

    # Model.
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int | None = None  # None: as many as n_heads
    ffn_hidden: int | None = None  # None: 8/3 d_model
    qkv_bias: bool = False
    tie_embeddings: bool = False
    mtp_layers: int = 0  # 1 adds the MTP module that predicts token t+2
    # (from loss tokens, lambda): lambda applies once that many loss tokens have been trained on.
    mtp_schedule: tuple[tuple[int, float], ...] = ((0, 0.3),)
    doc_attention: bool = True  # attention only within a document

    # Runtime.
    seed: int = 0
    device: str = "cpu"
    dtype: str = "auto"  # "float32" or "bfloat16" autocast; auto: bfloat16 on CUDA, float32 elsewhere
    compile: bool | None = None  # torch.compile the model; None: on CUDA only
    attention: str | None = None  # "sdpa" or "flex"; None: flex on CUDA, sdpa elsewhere
    fused_adamw: bool | None = None  # AdamW's fused kernel (CUDA and CPU); None: on CUDA only
    gpu_only: bool = False  # set by the large presets, which must not be built on a CPU
    peak_tflops: float | None = None  # accelerator peak for MFU; None: looked up from the CUDA device name
    log_every: int = 10  # steps between log lines
    checkpoint_dir: str | None = None  # step-NNNNNN.pt files are written here
    checkpoint_every: int = 0  # steps between checkpoints; 0: only after the last step
    resume: str | None = None  # checkpoint file to continue from

    def __post_init__(self) -> None:
        self.stages = tuple(StageSpec(**stage) if isinstance(stage, dict) else stage for stage in self.stages)
        self.mtp_schedule = tuple((int(tokens), float(weight)) for tokens, weight in self.mtp_schedule)
        _validate(self)

    def stage_specs(self) -> tuple[StageSpec, ...]:
        if self.stages:
            return self.stages
        return (StageSpec(shards=self.shards, seq_len=self.seq_len, rope_theta=self.rope_theta),)

    @property
    def use_cuda(self) -> bool:
        return self.device.startswith("cuda")

    def resolved_dtype(self) -> str:
        if self.dtype == "auto":
            return "bfloat16" if self.use_cuda else "float32"
        return self.dtype

    def resolved_attention(self) -> str:
        return self.attention or ("flex" if self.use_cuda else "sdpa")

    def resolved_compile(self) -> bool:
        return self.use_cuda if self.compile is None else self.compile

    def resolved_fused_adamw(self) -> bool:
        return self.use_cuda if self.fused_adamw is None else self.fused_adamw


def _validate(config: TrainConfig) -> None:
    for name in ("steps", "batch_size", "grad_accum_steps", "d_model", "n_layers", "n_heads", "log_every"):
        if getattr(config, name) < 1:
            raise TrainConfigError(f"TrainConfig.{name} must be at least 1, got {getattr(config, name)}")
    if (config.shards is None) == (not config.stages):
        raise TrainConfigError("TrainConfig needs exactly one of `shards` (one stage folder) or `stages` (a schedule)")
    if config.seq_len is not None and config.seq_len < 2:
        raise TrainConfigError(f"TrainConfig.seq_len must be at least 2 or None, got {config.seq_len}")
    if not config.lr > 0:
        raise TrainConfigError(f"TrainConfig.lr must be positive, got {config.lr}")
    if not 0 <= config.min_lr_ratio <= 1:
        raise TrainConfigError(f"TrainConfig.min_lr_ratio must be in [0, 1], got {config.min_lr_ratio}")
    for name in ("warmup_steps", "checkpoint_every"):
        if getattr(config, name) < 0:
            raise TrainConfigError(f"TrainConfig.{name} must be non-negative, got {getattr(config, name)}")
    if config.decay_steps is not None and not 0 <= config.decay_steps <= config.steps:
        raise TrainConfigError(f"TrainConfig.decay_steps must be in [0, steps={config.steps}], got {config.decay_steps}")
    _validate_stages(config.stages)
    _validate_mtp_schedule(config.mtp_schedule)
    if config.dtype not in ("auto", "float32", "bfloat16"):
        raise TrainConfigError(f"TrainConfig.dtype must be auto, float32 or bfloat16, got {config.dtype!r}")
    if config.attention is not None and config.attention not in ATTENTION_KINDS:
        raise TrainConfigError(f"TrainConfig.attention must be one of {ATTENTION_KINDS} or None, got {config.attention!r}")
    if config.attention == "flex" and not config.use_cuda:
        # NOTE: torch 2.13 raises NotImplementedError for FlexAttention's backward on CPU, eager or
        # compiled, so flex training (the CUDA default) never runs on a CPU. The forward does,
        # and tests compare it with the dense mask.
        raise TrainConfigError(f"TrainConfig.attention 'flex' trains only on CUDA, but device is {config.device!r}; use 'sdpa'")
    if config.gpu_only and not config.use_cuda:
        raise TrainConfigError(f"this preset is GPU-only, but TrainConfig.device is {config.device!r}; use --device cuda")


def _validate_stages(stages: tuple[StageSpec, ...]) -> None:
    for index, stage in enumerate(stages):
        path = f"TrainConfig.stages[{index}]"
        if stage.seq_len is not None and stage.seq_len < 2:
            raise TrainConfigError(f"{path}.seq_len must be at least 2 or None, got {stage.seq_len}")
        if stage.rope_theta is not None and not stage.rope_theta > 0:
            raise TrainConfigError(f"{path}.rope_theta must be positive, got {stage.rope_theta}")
        if stage.tokens is None and index < len(stages) - 1:
            raise TrainConfigError(f"{path}.tokens is missing; every stage but the last needs a token count")
        if stage.tokens is not None and stage.tokens < 1:
            raise TrainConfigError(f"{path}.tokens must be at least 1, got {stage.tokens}")


def _validate_mtp_schedule(schedule: tuple[tuple[int, float], ...]) -> None:
    starts = [tokens for tokens, _ in schedule]
    if not schedule or starts[0] != 0 or starts != sorted(set(starts)):
        raise TrainConfigError(
            f"TrainConfig.mtp_schedule must start at 0 tokens and increase, got {[list(item) for item in schedule]}"
        )
    if any(weight < 0 for _, weight in schedule):
        raise TrainConfigError(f"TrainConfig.mtp_schedule weights must be non-negative, got {[list(item) for item in schedule]}")


# Presets: a tiny model for CPUs, and GPU shapes. The GPU presets set `gpu_only`, so building
# one on a CPU raises before any weight is allocated.
PRESETS: dict[str, dict[str, Any]] = {
    # About 2.2M parameters, 2.1M of them the two 16,384 x 64 embedding tables (input and head).
    "tiny-cpu": {
        "d_model": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "ffn_hidden": 176,
        "qkv_bias": True, "mtp_layers": 1, "seq_len": 128, "batch_size": 8,
        "lr": 3e-3, "warmup_steps": 10, "log_every": 10,
    },
    # About 0.48B parameters with the bundled 16,384-token vocabulary (MTP module included),
    # for MFU at 8,192 tokens on one GPU. Head size 128 suits the fused attention kernels.
    "gpu-0.5b": {
        "d_model": 1536, "n_layers": 16, "n_heads": 12, "n_kv_heads": 4, "ffn_hidden": 4096,
        "qkv_bias": True, "mtp_layers": 1, "seq_len": 8192, "batch_size": 4,
        "lr": 3e-4, "warmup_steps": 100, "device": "cuda", "gpu_only": True,
    },
    # The MiMo-7B shape: 36 layers, d 4,096, FFN 11,008, 32 query heads, 8 KV groups.
    "mimo-7b": {
        "d_model": 4096, "n_layers": 36, "n_heads": 32, "n_kv_heads": 8, "ffn_hidden": 11008,
        "qkv_bias": True, "mtp_layers": 1, "seq_len": 8192, "batch_size": 1, "grad_accum_steps": 16,
        "lr": 3e-4, "warmup_steps": 200, "device": "cuda", "gpu_only": True,
    },
}


def load_train_config(spec: str | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Build a TrainConfig from a preset name or YAML file (or neither), then ``overrides``.

    A YAML file contains TrainConfig fields. Its optional ``preset:`` key names a preset to start from.
    """
    values: dict[str, Any] = {}
    if spec is not None:
        values = dict(PRESETS[spec]) if spec in PRESETS else _read_yaml(spec)
    values.update({key: value for key, value in (overrides or {}).items() if value is not None})

    known = {item.name for item in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise TrainConfigError(f"unknown training config field(s) {unknown}; valid fields: {sorted(known)}")
    try:
        return TrainConfig(**values)
    except TypeError as error:  # a stage entry with an unknown key
        raise TrainConfigError(f"invalid training config: {error}") from error


def _read_yaml(spec: str) -> dict[str, Any]:
    path = Path(os.path.expandvars(os.path.expanduser(spec)))
    if not path.is_file():
        raise TrainConfigError(f"--config {spec!r} is neither a preset ({', '.join(PRESETS)}) nor a YAML file")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise TrainConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(values, dict):
        raise TrainConfigError(f"{path} contains a YAML {type(values).__name__}, expected a mapping of TrainConfig fields")

    preset = values.pop("preset", None)
    if preset is not None and preset not in PRESETS:
        raise TrainConfigError(f"{path}: unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    merged = dict(PRESETS[preset]) if preset else {}
    merged.update(values)
    for stage in merged.get("stages", ()):  # stage folders are relative to the YAML file
        if isinstance(stage, dict) and "shards" in stage:
            stage["shards"] = str(path.parent / os.path.expandvars(os.path.expanduser(stage["shards"])))
    if "shards" in merged and merged["shards"] is not None:
        merged["shards"] = str(path.parent / os.path.expandvars(os.path.expanduser(merged["shards"])))
    return merged
