"""Multi-token prediction (MTP): one extra module that predicts the token after next.

As in MiMo-7B and DeepSeek-V3, position t combines the main model's final hidden state at t
with the embedding of token t+1. Each is RMS-normalised, and the two are concatenated and
projected from 2C to C. One transformer block runs over the sequence and a final RMSNorm
follows. Then the main model's output head predicts token t+2. The token embedding and the
output head are shared with the main model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from mimo_data.train.layers import AttentionMask, Block, RMSNorm

if TYPE_CHECKING:
    from mimo_data.train.model import ModelConfig

IGNORE_INDEX = -100  # target value that cross_entropy skips


class MTPModule(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.hidden_norm = RMSNorm(config.d_model, config.norm_eps)
        self.embed_norm = RMSNorm(config.d_model, config.norm_eps)
        self.proj = nn.Linear(2 * config.d_model, config.d_model, bias=False)
        self.block = Block(config)
        self.out_norm = RMSNorm(config.d_model, config.norm_eps)

    def forward(self, hidden, next_embedding, cos, sin, mask: AttentionMask) -> torch.Tensor:
        """Return the MTP hidden state (B, T, C) from hidden and next_embedding, both (B, T, C)."""
        x = self.proj(torch.cat((self.hidden_norm(hidden), self.embed_norm(next_embedding)), dim=-1))
        return self.out_norm(self.block(x, cos, sin, mask))


def mtp_inputs(targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the next tokens to embed and the MTP targets, both (B, T), from next-token targets (B, T).

    Position t embeds token t+1 (= targets[t]) and predicts token t+2 (= targets[t+1]). The
    last position has no token t+2, and a position whose token t+1 is ignored (padding) is
    skipped too. Ignored tokens are embedded as id 0, which no kept prediction reads.
    """
    next_tokens = targets.clamp(min=0)
    mtp_targets = torch.full_like(targets, IGNORE_INDEX)
    mtp_targets[:, :-1] = targets[:, 1:]
    mtp_targets[targets == IGNORE_INDEX] = IGNORE_INDEX
    return next_tokens, mtp_targets
