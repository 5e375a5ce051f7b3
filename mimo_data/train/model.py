"""A small decoder-only transformer language model with an optional MTP module.

Pre-norm blocks with RMSNorm, rotary position embeddings, causal self-attention through
``torch.nn.functional.scaled_dot_product_attention`` and a SwiGLU MLP. When segment ids
are given, a token attends only to earlier tokens of its own document.

Shapes in comments: B batch, T sequence length, C ``d_model``, H heads, D head size,
V vocabulary size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_INDEX = -100  # target value that cross_entropy skips


class ModelConfigError(ValueError):
    """A ModelConfig field has an invalid value."""


@dataclass(kw_only=True)
class ModelConfig:
    vocab_size: int
    d_model: int = 128  # width of the residual stream
    n_layers: int = 2
    n_heads: int = 4
    max_seq_len: int = 2048  # maximum sequence length in tokens, the size of the rotary table
    mlp_ratio: float = 8 / 3  # SwiGLU hidden width / d_model, which keeps the parameter count of a 4x MLP
    rope_theta: float = 10000.0
    mtp_layers: int = 0  # 0 or 1: an MTP block that predicts token t+2
    mtp_weight: float = 0.3  # weight of the MTP loss in the total loss
    doc_attention: bool = True  # restrict attention to the same document when segment ids are given

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "max_seq_len"):
            if getattr(self, name) < 1:
                raise ModelConfigError(f"ModelConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ModelConfigError(
                f"ModelConfig.d_model ({self.d_model}) must split into n_heads ({self.n_heads}) heads of even size"
            )
        if self.mtp_layers not in (0, 1):
            raise ModelConfigError(f"ModelConfig.mtp_layers must be 0 or 1, got {self.mtp_layers}")
        if self.mtp_weight < 0:
            raise ModelConfigError(f"ModelConfig.mtp_weight must be non-negative, got {self.mtp_weight}")


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.float().pow(2).mean(dim=-1, keepdim=True)
        return (x.float() * torch.rsqrt(variance + self.eps)).type_as(x) * self.weight


def rotary_tables(head_dim: int, max_seq_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return cos and sin tables of shape (max_seq_len, head_dim / 2)."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(max_seq_len, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of x (B, H, T, D) by position-dependent angles (T, D/2)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return rotated.flatten(-2).type_as(x)


def document_causal_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """Return a (B, 1, T, T) boolean mask: True where query i may attend to key j.

    Key j is visible when j <= i and both tokens share a segment id. Padding (segment 0)
    attends to earlier padding, so no query row is fully masked.
    """
    T = segment_ids.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool, device=segment_ids.device).tril()
    same_segment = segment_ids[:, :, None] == segment_ids[:, None, :]  # (B, T, T)
    return (causal & same_segment)[:, None]


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)

        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, T, D)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        hidden = int(config.mlp_ratio * config.d_model)
        self.gate = nn.Linear(config.d_model, hidden, bias=False)
        self.up = nn.Linear(config.d_model, hidden, bias=False)
        self.down = nn.Linear(hidden, config.d_model, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.mlp_norm = RMSNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, mask):
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)
        return x + self.mlp(self.mlp_norm(x))


class MTPModule(nn.Module):
    """Multi-token prediction: predict token t+2 from the main hidden state at t and the embedding of t+1.

    Both inputs are normalized, concatenated and projected back to d_model, then one
    transformer block runs over the sequence. The caller shares the token embedding and
    output head with the main model.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.hidden_norm = RMSNorm(config.d_model)
        self.embed_norm = RMSNorm(config.d_model)
        self.proj = nn.Linear(2 * config.d_model, config.d_model, bias=False)
        self.block = Block(config)
        self.out_norm = RMSNorm(config.d_model)

    def forward(self, hidden, next_embedding, cos, sin, mask):
        # hidden, next_embedding: (B, T', C) with T' = T - 1
        x = self.proj(torch.cat((self.hidden_norm(hidden), self.embed_norm(next_embedding)), dim=-1))
        return self.out_norm(self.block(x, cos, sin, mask))


@dataclass
class ModelOutput:
    logits: torch.Tensor  # (B, T, V)
    loss: torch.Tensor | None  # main loss + mtp_weight * mtp_loss, when targets are given
    main_loss: torch.Tensor | None
    mtp_loss: torch.Tensor | None  # None without an MTP module


class TransformerLM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied input and output embeddings
        self.mtp = MTPModule(config) if config.mtp_layers else None

        cos, sin = rotary_tables(config.d_model // config.n_heads, config.max_seq_len, config.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, input_ids, targets=None, segment_ids=None) -> ModelOutput:
        """Run the model on input_ids (B, T); targets (B, T) hold IGNORE_INDEX where no loss is taken."""
        B, T = input_ids.shape
        if T > self.config.max_seq_len:
            raise ValueError(f"sequence length {T} exceeds ModelConfig.max_seq_len {self.config.max_seq_len}")
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        use_mask = segment_ids is not None and self.config.doc_attention
        mask = document_causal_mask(segment_ids) if use_mask else None

        x = self.embed(input_ids)  # (B, T, C)
        for block in self.blocks:
            x = block(x, cos, sin, mask)
        hidden = self.norm(x)
        logits = self.head(hidden)  # (B, T, V)
        if targets is None:
            return ModelOutput(logits, None, None, None)

        main_loss = cross_entropy(logits, targets)
        if self.mtp is None or T < 2:
            return ModelOutput(logits, main_loss, main_loss, None)

        mtp_loss = self._mtp_loss(hidden, targets, cos, sin, mask)
        return ModelOutput(logits, main_loss + self.config.mtp_weight * mtp_loss, main_loss, mtp_loss)

    def _mtp_loss(self, hidden, targets, cos, sin, mask):
        # Position t takes hidden[t] and the embedding of token t+1 (= targets[t]) and predicts
        # token t+2 (= targets[t+1]). Ignored targets are embedded as token 0 and their
        # predictions are skipped by the loss.
        next_tokens = targets[:, :-1].clamp(min=0)  # (B, T-1)
        mtp_targets = targets[:, 1:].clone()  # (B, T-1)
        mtp_targets[targets[:, :-1] == IGNORE_INDEX] = IGNORE_INDEX
        if mask is not None:
            mask = mask[:, :, :-1, :-1]
        mtp_hidden = self.mtp(hidden[:, :-1], self.embed(next_tokens), cos[:-1], sin[:-1], mask)
        return cross_entropy(self.head(mtp_hidden), mtp_targets)

    def num_parameters(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters())


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy in nats over targets that are not IGNORE_INDEX."""
    # NOTE: this is NaN when every target is IGNORE_INDEX, which happens only for a batch
    # of rows whose tokens are all padding apart from the first.
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=IGNORE_INDEX)
