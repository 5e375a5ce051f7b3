"""A first document quality score in [0, 1], as the ``quality`` float32 column.

Two scorers sit behind :class:`QualityScorer`:

* ``model_path=None``: a transparent heuristic over the prose signals of
  :mod:`mimo_data.annotate.heuristics`. It is the product of six terms, each in [0, 1]::

      length      = min(1, ln(1 + n_words) / ln(1 + 300))
      alpha       = clip((alpha_ratio - 0.6) / 0.3, 0, 1)
      lines       = 1 - dup_line_frac
      ngrams      = clip(1 - max(0, top_2gram_frac - 0.05) / 0.25, 0, 1)
      symbols     = clip(1 - max(0, symbol_ratio - 0.05) / 0.15, 0, 1)
      punctuation = 0.5 + 0.5 * frac_lines_end_punct

  so a long page of sentences with no repetition scores near 1, and navigation menus,
  repeated lines and symbol spam score near 0. Code and math are removed before the prose
  signals are measured, so formulas and listings do not lower the score. Every term but
  ``length`` judges prose, and with fewer than 20 prose words it is pulled towards 1 in
  proportion (``term' = 1 - min(1, n_prose_words / 20) * (1 - term)``), because a page
  that is almost all code or math has too little prose to judge.
* ``model_path`` set: a fastText supervised model file, loaded with ``fasttext.load_model``
  from fasttext-numpy2; the score is the model's probability of ``positive_label``.
  :func:`train_quality_model` (``mimo-data quality train``) trains one from labelled texts,
  and ``model_path: default`` selects the toolkit's own model, trained on first use from
  generated text (:mod:`mimo_data.annotate.quality_default`).
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import fasttext
import pyarrow as pa

from mimo_data.annotate.fasttext_train import FastTextTrainConfig, fasttext_line, train_classifier
from mimo_data.annotate.heuristics import SIGNAL_COLUMNS, HeuristicSignals
from mimo_data.document import kept_mask, set_column

logger = logging.getLogger(__name__)

POSITIVE_LABEL = "__label__hq"
NEGATIVE_LABEL = "__label__lq"
# The model_path value that selects the toolkit's default model.
DEFAULT_MODEL = "default"

# Words at which the length term reaches 1: the Gopher rules keep pages from 50 words, and
# a page of a few hundred words is a full article.
_FULL_LENGTH_WORDS = 300
# Prose words from which the prose terms count fully; the same default as the filter's
# HeuristicFilterConfig.min_prose_words.
_MIN_PROSE_WORDS = 20


@dataclass(kw_only=True)
class QualityScorerConfig:
    """Settings of :class:`QualityScorer`."""

    # Path of a fastText supervised model (.bin or .ftz), or "default" for the toolkit's
    # default model; None selects the heuristic score.
    model_path: str | None = None
    # The model's label for high-quality text; the score is its probability.
    positive_label: str = POSITIVE_LABEL

    def __post_init__(self) -> None:
        if self.model_path not in (None, DEFAULT_MODEL) and not Path(self.model_path).is_file():
            raise ValueError(
                f"QualityScorerConfig.model_path must be an existing fastText model file, "
                f"got {self.model_path!r}, which is not a file"
            )
        if not self.positive_label.startswith("__label__"):
            raise ValueError(
                "QualityScorerConfig.positive_label must start with '__label__' as fastText "
                f"labels do, got {self.positive_label!r}"
            )


def heuristic_quality(signals: dict) -> float:
    """Return the heuristic quality score of one document from its signal values."""
    length = min(1.0, math.log1p(signals["n_words"]) / math.log1p(_FULL_LENGTH_WORDS))
    prose_terms = (
        _clip((signals["alpha_ratio"] - 0.6) / 0.3),
        1.0 - signals["dup_line_frac"],
        _clip(1.0 - max(0.0, signals["top_2gram_frac"] - 0.05) / 0.25),
        _clip(1.0 - max(0.0, signals["symbol_ratio"] - 0.05) / 0.15),
        0.5 + 0.5 * signals["frac_lines_end_punct"],
    )
    prose_weight = min(1.0, signals["n_prose_words"] / _MIN_PROSE_WORDS)
    score = length
    for term in prose_terms:
        score *= 1.0 - prose_weight * (1.0 - term)
    return _clip(score)


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


class QualityScorer:
    """Append ``quality`` (float32 in [0, 1]) to each kept document; dropped rows get null.

    Signal columns already present are reused by the heuristic; missing ones are computed
    with :class:`~mimo_data.annotate.heuristics.HeuristicSignals` and appended. A kept row
    whose ``text`` is null scores 0.0.
    """

    def __init__(self, **fields) -> None:
        self.config = QualityScorerConfig(**fields)
        self._model = None
        if self.config.model_path is not None:
            self._model = fasttext.load_model(self._resolved_model_path())
            logger.info("loaded quality model %s", self.config.model_path)
        self._signals = HeuristicSignals()

    def __call__(self, table: pa.Table) -> pa.Table:
        if self._model is None and any(name not in table.column_names for name in SIGNAL_COLUMNS):
            table = self._signals(table)
        keep = kept_mask(table).to_pylist()
        texts = table.column("text").to_pylist()
        signal_rows = [None] * table.num_rows
        if self._model is None:
            signal_rows = table.select(list(SIGNAL_COLUMNS)).to_pylist()

        scores: list[float | None] = []
        for is_kept, text, signals in zip(keep, texts, signal_rows):
            if not is_kept:
                scores.append(None)
            elif text is None:
                scores.append(0.0)
            elif self._model is not None:
                scores.append(self._model_score(text))
            else:
                scores.append(heuristic_quality(signals))
        return set_column(table, "quality", pa.array(scores, pa.float32()))

    def _resolved_model_path(self) -> str:
        if self.config.model_path == DEFAULT_MODEL:
            from mimo_data.annotate.quality_default import default_quality_model_path

            return default_quality_model_path()
        return self.config.model_path

    def _model_score(self, text: str) -> float:
        # k=-1 returns every label of the model, so the positive label is found if it exists.
        labels, probabilities = self._model.predict(fasttext_line(text), k=-1)
        for label, probability in zip(labels, probabilities):
            if label == self.config.positive_label:
                return _clip(float(probability))
        raise ValueError(
            f"the quality model {self.config.model_path} has no label "
            f"{self.config.positive_label!r}; its first labels are {sorted(labels)[:10]}. "
            "Set positive_label to the model's high-quality label"
        )


def write_quality_training_file(
    positive_texts: Iterable[str],
    negative_texts: Iterable[str],
    out_path: str | Path,
    *,
    seed: int,
) -> int:
    """Write a fastText supervised training file of labelled, shuffled texts.

    Each line is ``__label__hq <text>`` or ``__label__lq <text>`` with the text on one
    line as :func:`fasttext_line` puts it, which is also how the scorer feeds the model.
    Empty texts are skipped. Returns the number of lines written.
    """
    lines = []
    for label, texts in ((POSITIVE_LABEL, positive_texts), (NEGATIVE_LABEL, negative_texts)):
        for text in texts:
            one_line = fasttext_line(text)
            if one_line:
                lines.append(f"{label} {one_line}")
    random.Random(seed).shuffle(lines)

    out_path = Path(out_path)
    temporary = out_path.with_name(out_path.name + ".tmp")
    temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    temporary.replace(out_path)
    return len(lines)


def train_quality_model(
    positive_texts: Iterable[str],
    negative_texts: Iterable[str],
    out_path: str | Path,
    *,
    config: FastTextTrainConfig | None = None,
) -> dict[str, int]:
    """Train a fastText quality model (labels ``__label__hq``, ``__label__lq``) and save it.

    Returns the number of training texts per label; raises
    :class:`~mimo_data.annotate.fasttext_train.TrainingDataError` when a class is empty.
    """
    examples = [(POSITIVE_LABEL, text) for text in positive_texts]
    examples += [(NEGATIVE_LABEL, text) for text in negative_texts]
    return train_classifier(examples, out_path, config=config)
