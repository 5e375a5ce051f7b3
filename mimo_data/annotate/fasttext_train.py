"""Train small fastText supervised classifiers (quality, domain) with fasttext-numpy2.

The training settings are sized for classifiers of a few thousand documents: a 2-gram
model with 32 dimensions and 2^18 hash buckets, about 34 MB as a ``.bin``. One thread and a
fixed seed make a model file byte-identical across reruns on the same input.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import fasttext

logger = logging.getLogger(__name__)

LABEL_PREFIX = "__label__"


class TrainingDataError(ValueError):
    """Training input that cannot make a classifier, such as a label with no examples."""


@dataclass(kw_only=True)
class FastTextTrainConfig:
    """Hyperparameters passed to ``fasttext.train_supervised``."""

    epoch: int = 20  # passes over the training file
    lr: float = 0.5  # initial learning rate
    dim: int = 32  # embedding dimensions
    word_ngrams: int = 2  # word n-grams hashed into buckets (2 adds bigrams)
    bucket: int = 1 << 18  # hash buckets for the n-grams
    min_count: int = 1  # minimum occurrences of a word to enter the vocabulary
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epoch", "dim", "word_ngrams", "bucket", "min_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"FastTextTrainConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.lr <= 0:
            raise ValueError(f"FastTextTrainConfig.lr must be positive, got {self.lr!r}")


def fasttext_line(text: str) -> str:
    """Return ``text`` on one line, as fastText reads it for training and prediction."""
    return " ".join(text.split())


def write_training_file(examples: Iterable[tuple[str, str]], out_path: str | Path, *, seed: int) -> dict[str, int]:
    """Write ``(label, text)`` pairs as a shuffled fastText training file.

    Labels are written with the ``__label__`` prefix added when missing. Texts that are empty
    once put on one line are skipped. Returns the number of lines written per label.
    """
    lines = []
    counts: dict[str, int] = {}
    for label, text in examples:
        one_line = fasttext_line(text)
        if not one_line:
            continue
        label = label if label.startswith(LABEL_PREFIX) else LABEL_PREFIX + label
        lines.append(f"{label} {one_line}")
        counts[label] = counts.get(label, 0) + 1
    random.Random(seed).shuffle(lines)

    out_path = Path(out_path)
    temporary = out_path.with_name(out_path.name + ".tmp")
    temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    temporary.replace(out_path)
    return counts


def train_classifier(
    examples: Iterable[tuple[str, str]],
    out_path: str | Path,
    *,
    config: FastTextTrainConfig | None = None,
    min_labels: int = 2,
) -> dict[str, int]:
    """Train a fastText classifier on ``(label, text)`` pairs and save it to ``out_path``.

    Raises :class:`TrainingDataError` when fewer than ``min_labels`` labels have examples.
    Returns the number of training lines per label.
    """
    config = config or FastTextTrainConfig()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # The process id keeps two workers that train the same file from sharing temporary files.
    train_path = out_path.with_name(f"{out_path.name}.{os.getpid()}.train.txt")

    counts = write_training_file(examples, train_path, seed=config.seed)
    if len(counts) < min_labels:
        train_path.unlink(missing_ok=True)
        raise TrainingDataError(
            f"expected examples of at least {min_labels} labels, found {counts or 'none'}; "
            "give non-empty texts for every class"
        )

    model = fasttext.train_supervised(
        input=str(train_path), epoch=config.epoch, lr=config.lr, dim=config.dim,
        wordNgrams=config.word_ngrams, bucket=config.bucket, minCount=config.min_count,
        thread=1, seed=config.seed, verbose=0,
    )
    temporary = out_path.with_name(f"{out_path.name}.{os.getpid()}.tmp")
    model.save_model(str(temporary))
    temporary.replace(out_path)
    train_path.unlink()
    logger.info("trained fastText classifier %s on %s", out_path, counts)
    return counts
