"""A decoder-only transformer in the MiMo-7B / Qwen2 shape, with an optional MTP module.

Pre-norm blocks with RMSNorm, rotary position embeddings with a configurable base,
grouped-query attention, a SwiGLU MLP, and an input embedding untied from the output head.
When segment ids are given, a token attends only to earlier tokens of its own document.

Shapes in comments: B batch, T sequence length, C ``d_model``, V vocabulary size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mimo_data.train.layers import (
    AttentionMask,
    Block,
    RMSNorm,
    document_block_mask,
    document_causal_mask,
    rotary_tables,
)
from mimo_data.train.mtp import IGNORE_INDEX, MTPModule, mtp_inputs

ATTENTION_KINDS = ("sdpa", "flex")

__all__ = ["IGNORE_INDEX", "ModelConfig", "ModelConfigError", "ModelOutput", "TransformerLM", "cross_entropy"]


class ModelConfigError(ValueError):
    """A ModelConfig field has an invalid value."""


@dataclass(kw_only=True)
class ModelConfig:
    vocab_size: int
    d_model: int = 128  # width of the residual stream
    n_layers: int = 2
    n_heads: int = 4  # query heads
    n_kv_heads: int | None = None  # key/value heads (GQA groups); None means n_heads
    ffn_hidden: int | None = None  # SwiGLU hidden width; None means 8/3 d_model, the size of a 4x MLP
    qkv_bias: bool = False  # biases on the q, k, v projections, as in Qwen2
    tie_embeddings: bool = False  # MiMo-7B keeps the output head separate from the input embedding
    max_seq_len: int = 2048  # size of the rotary table in tokens
    rope_theta: float = 10000.0  # RoPE base
    norm_eps: float = 1e-6
    mtp_layers: int = 0  # 0 or 1: an MTP module that predicts token t+2
    mtp_weight: float = 0.3  # lambda: weight of the MTP loss when forward() is given none
    doc_attention: bool = True  # restrict attention to the same document when segment ids are given
    attention: str = "sdpa"  # "sdpa" (dense boolean mask) or "flex" (FlexAttention block mask)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "max_seq_len"):
            if getattr(self, name) < 1:
                raise ModelConfigError(f"ModelConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ModelConfigError(
                f"ModelConfig.d_model ({self.d_model}) must split into n_heads ({self.n_heads}) heads of even size"
            )
        if self.n_kv_heads is not None and (self.n_kv_heads < 1 or self.n_heads % self.n_kv_heads):
            raise ModelConfigError(
                f"ModelConfig.n_kv_heads must divide n_heads ({self.n_heads}), got {self.n_kv_heads}"
            )
        if self.ffn_hidden is not None and self.ffn_hidden < 1:
            raise ModelConfigError(f"ModelConfig.ffn_hidden must be at least 1 or None, got {self.ffn_hidden}")
        if self.mtp_layers not in (0, 1):
            raise ModelConfigError(f"ModelConfig.mtp_layers must be 0 or 1, got {self.mtp_layers}")
        if self.mtp_weight < 0:
            raise ModelConfigError(f"ModelConfig.mtp_weight must be non-negative, got {self.mtp_weight}")
        if not self.rope_theta > 0:
            raise ModelConfigError(f"ModelConfig.rope_theta must be positive, got {self.rope_theta}")
        if self.attention not in ATTENTION_KINDS:
            raise ModelConfigError(f"ModelConfig.attention must be one of {ATTENTION_KINDS}, got {self.attention!r}")

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def ffn_size(self) -> int:
        return self.ffn_hidden or int(8 / 3 * self.d_model)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass
class ModelOutput:
    logits: torch.Tensor  # (B, T, V)
    loss: torch.Tensor | None  # main_loss + mtp_weight * mtp_loss, when targets are given
    main_loss: torch.Tensor | None
    mtp_loss: torch.Tensor | None  # None without an MTP module


class TransformerLM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.head.weight = self.embed.weight
        self.mtp = MTPModule(config) if config.mtp_layers else None

        self.register_buffer("rope_cos", torch.empty(0), persistent=False)
        self.register_buffer("rope_sin", torch.empty(0), persistent=False)
        self.set_rope(config.rope_theta, config.max_seq_len)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def set_rope(self, theta: float, max_seq_len: int | None = None) -> None:
        """Rebuild the rotary tables for RoPE base ``theta``, as a stage switch to longer context does."""
        if not theta > 0:
            raise ModelConfigError(f"RoPE base must be positive, got {theta}")
        max_seq_len = max_seq_len or self.config.max_seq_len
        cos, sin = rotary_tables(self.config.head_dim, max_seq_len, theta)
        device = self.rope_cos.device
        self.rope_cos, self.rope_sin = cos.to(device), sin.to(device)
        self.config.rope_theta = theta
        self.config.max_seq_len = max_seq_len

    def attention_mask(self, segment_ids: torch.Tensor | None) -> AttentionMask:
        """Return the mask type that the configured attention kernel takes, or None for plain causal."""
        if segment_ids is None or not self.config.doc_attention:
            return None
        if self.config.attention == "flex":
            return document_block_mask(segment_ids)
        return document_causal_mask(segment_ids)

    def forward(
        self, input_ids, targets=None, segment_ids=None, *, mask: AttentionMask = None,
        mtp_weight: float | torch.Tensor | None = None,
    ) -> ModelOutput:
        """Run the model on input_ids (B, T); targets (B, T) hold IGNORE_INDEX where no loss is taken.

        ``mask`` is a mask from ``attention_mask``, built outside a compiled model; without one
        it is built from ``segment_ids``. ``mtp_weight`` is lambda in loss = main + lambda * MTP,
        a float or a 0-d tensor (which a compiled model takes without recompiling when it
        changes), and None uses ``config.mtp_weight``.
        """
        B, T = input_ids.shape
        if T > self.rope_cos.shape[0]:
            raise ModelConfigError(f"sequence length {T} exceeds ModelConfig.max_seq_len {self.rope_cos.shape[0]}")
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        if mask is None:
            mask = self.attention_mask(segment_ids)

        x = self.embed(input_ids)  # (B, T, C)
        for block in self.blocks:
            x = block(x, cos, sin, mask)
        hidden = self.norm(x)
        logits = self.head(hidden)  # (B, T, V)
        if targets is None:
            return ModelOutput(logits, None, None, None)

        main_loss = cross_entropy(logits, targets)
        if self.mtp is None:
            return ModelOutput(logits, main_loss, main_loss, None)

        next_tokens, mtp_targets = mtp_inputs(targets)
        mtp_hidden = self.mtp(hidden, self.embed(next_tokens), cos, sin, mask)
        mtp_loss = cross_entropy(self.head(mtp_hidden), mtp_targets)
        weight = self.config.mtp_weight if mtp_weight is None else mtp_weight
        return ModelOutput(logits, main_loss + weight * mtp_loss, main_loss, mtp_loss)

    def num_parameters(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters())


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy in nats over targets that are not IGNORE_INDEX."""
    # NOTE: this is NaN when every target is IGNORE_INDEX, which happens only for a batch
    # of rows whose tokens are all padding apart from the first.
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=IGNORE_INDEX)
