"""Schedules over the run: learning rate by step, MTP weight and stage by tokens trained."""

from __future__ import annotations

import math
from typing import Sequence


def learning_rate(
    step: int, *, lr: float, steps: int, warmup_steps: int, decay_steps: int | None = None, min_lr_ratio: float = 0.1
) -> float:
    """Return the learning rate of 0-based ``step``: linear warmup, constant, then cosine decay.

    Warmup rises linearly to ``lr`` over ``warmup_steps``. The last ``decay_steps`` steps
    (every step after warmup when None) follow a half cosine from ``lr`` down to
    ``lr * min_lr_ratio``, which the last step reaches.
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps

    after_warmup = steps - warmup_steps
    decay_steps = after_warmup if decay_steps is None else min(decay_steps, after_warmup)
    decay_start = steps - decay_steps
    if step < decay_start or decay_steps <= 0:
        return lr
    progress = min(1.0, (step - decay_start) / max(1, decay_steps - 1))
    return lr * (min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def mtp_weight(tokens_trained: int, schedule: Sequence[tuple[int, float]]) -> float:
    """Return lambda for the MTP loss: the weight of the last schedule entry whose token count is reached."""
    weight = schedule[0][1]
    for start_tokens, entry_weight in schedule:
        if tokens_trained >= start_tokens:
            weight = entry_weight
    return weight


def stage_index(tokens_trained: int, stage_tokens: Sequence[int | None]) -> int:
    """Return the 0-based stage for ``tokens_trained``: a stage ends once its token count is trained.

    A stage's count is its own budget, not a running total; the last stage (count None or not)
    continues until the run ends.
    """
    boundary = 0
    for index, tokens in enumerate(stage_tokens[:-1]):
        boundary += tokens
        if tokens_trained < boundary:
            return index
    return len(stage_tokens) - 1
