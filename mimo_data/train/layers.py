"""Transformer layers of the decoder: RMSNorm, RoPE, grouped-query attention, SwiGLU.

Shapes in comments: B batch, T sequence length, C ``d_model``, H query heads, G key/value
heads (the GQA groups), D head size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

if TYPE_CHECKING:
    from mimo_data.train.model import ModelConfig

# A dense (B, 1, T, T) boolean mask for SDPA, a BlockMask for FlexAttention, or None for plain causal.
AttentionMask = Union[torch.Tensor, BlockMask, None]

_compiled_flex_attention = None  # flex_attention is only fused into a kernel when compiled


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The mean square is taken in float32 so bf16 activations keep their scale.
        variance = x.float().pow(2).mean(dim=-1, keepdim=True)
        return (x.float() * torch.rsqrt(variance + self.eps)).type_as(x) * self.weight


def rotary_tables(head_dim: int, max_seq_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return cos and sin tables of shape (max_seq_len, head_dim / 2) for RoPE base ``theta``."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(max_seq_len, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of x (B, H, T, D) by position-dependent angles (T, D/2)."""
    # The result is x * cos + swap(x) * sin, a new (B, H, T, D) tensor. A view of a stacked
    # (..., D/2, 2) tensor would be simpler, but inductor's CPU FlexAttention lowering in torch
    # 2.13 fails on a query that is such a view. In eager mode each channel gets the same products
    # and sums as x1 * cos - x2 * sin and x1 * sin + x2 * cos, so the values are identical.
    x32 = x.float()
    x1, x2 = x32[..., 0::2], x32[..., 1::2]
    swapped = torch.stack((-x2, x1), dim=-1).flatten(-2)  # (-x2, x1) in each pair
    rotated = x32 * cos.repeat_interleave(2, dim=-1) + swapped * sin.repeat_interleave(2, dim=-1)
    return rotated.type_as(x)


def document_causal_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """Return a (B, 1, T, T) boolean mask: True where query i may attend to key j.

    Key j is visible when j <= i and both tokens share a segment id. Padding (segment 0)
    attends to earlier padding, so no query row is fully masked.
    """
    T = segment_ids.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool, device=segment_ids.device).tril()
    same_segment = segment_ids[:, :, None] == segment_ids[:, None, :]  # (B, T, T)
    return (causal & same_segment)[:, None]


def document_block_mask(segment_ids: torch.Tensor) -> BlockMask:
    """Return the FlexAttention form of ``document_causal_mask``.

    FlexAttention skips the blocks that are fully masked, so the cost of attention
    follows the document lengths instead of the full T x T square.
    """
    B, T = segment_ids.shape

    def same_document_causal(b, h, q_idx, kv_idx):
        return (kv_idx <= q_idx) & (segment_ids[b, q_idx] == segment_ids[b, kv_idx])

    return create_block_mask(same_document_causal, B, None, T, T, device=segment_ids.device)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: AttentionMask) -> torch.Tensor:
    """Attention of q (B, H, T, D) over k, v (B, G, T, D); each key/value head serves H / G query heads."""
    if isinstance(mask, BlockMask):
        if q.device.type == "cpu":
            # NOTE: inductor's CPU FlexAttention kernel (torch 2.13) returns wrong values, without an
            # error, for a value tensor that is a strided view such as the one split from the fused
            # k/v projection. Dense copies avoid it. GPUs use the Triton kernel and skip the copies.
            q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        return _flex_attention(q.device)(q, k, v, block_mask=mask, enable_gqa=True)
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)


def _flex_attention(device: torch.device):
    # On CPU the eager form is kept: it materialises the scores but needs no C++ compiler,
    # which is what the equivalence tests run. GPUs get the compiled, fused kernel.
    global _compiled_flex_attention
    if device.type != "cuda":
        return flex_attention
    if _compiled_flex_attention is None:
        _compiled_flex_attention = torch.compile(flex_attention)
    return _compiled_flex_attention


class Attention(nn.Module):
    """Grouped-query self-attention with RoPE; Qwen2 puts biases on the q, k and v projections."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.n_kv_heads = config.kv_heads
        self.head_dim = config.d_model // config.n_heads
        self.q = nn.Linear(config.d_model, self.n_heads * self.head_dim, bias=config.qkv_bias)
        self.kv = nn.Linear(config.d_model, 2 * self.n_kv_heads * self.head_dim, bias=config.qkv_bias)
        self.proj = nn.Linear(self.n_heads * self.head_dim, config.d_model, bias=False)

    def forward(self, x, cos, sin, mask: AttentionMask):
        B, T, C = x.shape
        q = self.q(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k, v = self.kv(x).view(B, T, 2, self.n_kv_heads, self.head_dim).unbind(dim=2)  # each (B, T, G, D)
        k, v = k.transpose(1, 2), v.transpose(1, 2)  # (B, G, T, D)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)

        y = attend(q, k, v, mask)  # (B, H, T, D)
        return self.proj(y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim))


class MLP(nn.Module):
    """SwiGLU feed-forward: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.gate = nn.Linear(config.d_model, config.ffn_size, bias=False)
        self.up = nn.Linear(config.d_model, config.ffn_size, bias=False)
        self.down = nn.Linear(config.ffn_size, config.d_model, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attn = Attention(config)
        self.mlp_norm = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, mask: AttentionMask):
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)
        return x + self.mlp(self.mlp_norm(x))
