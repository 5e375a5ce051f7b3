"""Heuristic quality signals per document, and a filter over them that spares math and code.

The ratios that judge writing (alpha, symbols, repeated lines, repeated 2-grams) are measured
on prose only: the text left after fenced code, inline code and math are removed. A page made
mostly of LaTeX or Python is therefore judged on its few prose lines, not punished for its
formulas. Length (``n_words``) counts the whole text, code and math included.

Words are script-aware: each CJK ideograph or kana is one word, because Chinese and Japanese
do not separate words with spaces. Other words are whitespace-separated tokens with their
leading and trailing punctuation stripped.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import pyarrow as pa

from mimo_data.annotate.markup import CJK_RANGES, split_markup
from mimo_data.document import kept_mask, mark_dropped, set_column

logger = logging.getLogger(__name__)

_WORD_PATTERN = re.compile(rf"[{CJK_RANGES}]|[^\s{CJK_RANGES}]+")

# Sentence-final punctuation in Latin and CJK scripts, also when followed by a closing quote
# or bracket, e.g. `He said "yes."` or `（见上文。）`.
_END_PUNCTUATION = frozenset(".!?。！？…:;：；")
_CLOSING_MARKS = "\"'”’»)]）】」』"

# Prose lines of at most this many characters count as short (the FineWeb "short line" rule
# uses 30 characters).
SHORT_LINE_CHARS = 30

# Lowercase phrases that mark site furniture rather than content, after the C4 line rules
# ("javascript", "cookie", "terms of use", "privacy policy", "lorem ipsum") and common
# navigation and sharing text. A prose line that contains one counts as boilerplate.
BOILERPLATE_PHRASES = (
    "javascript", "cookie", "terms of use", "terms of service", "privacy policy", "lorem ipsum",
    "all rights reserved", "click here", "sign up", "log in", "subscribe to", "share this",
    "follow us", "add to cart", "skip to content", "版权所有", "登录", "注册", "隐私政策",
)

# A word of digits, operators and brackets only, such as "2", "5/3" or "3)/(-5".
_ARITHMETIC_PATTERN = re.compile(r"[\d+\-*/=<>^%.,()\[\]]+")

INT_SIGNALS = ("n_chars", "n_words", "n_prose_words")
FLOAT_SIGNALS = (
    "mean_word_len",
    "alpha_ratio",
    "symbol_ratio",
    "frac_lines_end_punct",
    "dup_line_frac",
    "top_2gram_frac",
    "frac_code",
    "frac_math",
    "frac_short_lines",
    "boilerplate_line_frac",
    "dup_5gram_frac",
)
SIGNAL_COLUMNS = INT_SIGNALS + FLOAT_SIGNALS


def split_words(text: str) -> list[str]:
    """Split ``text`` into script-aware words with edge punctuation removed."""
    words = []
    for token in _WORD_PATTERN.findall(text):
        word = _strip_punctuation(token)
        if word:
            words.append(word)
    return words


def _strip_punctuation(token: str) -> str:
    start, end = 0, len(token)
    while start < end and unicodedata.category(token[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(token[end - 1]).startswith("P"):
        end -= 1
    return token[start:end]


def compute_signals(text: str) -> dict[str, float | int]:
    """Compute every signal of ``SIGNAL_COLUMNS`` for one document's Markdown ``text``."""
    split = split_markup(text)
    n_chars = len(text)
    prose_words = split_words(split.prose)
    prose_lines = [line.strip() for line in split.prose.splitlines() if line.strip()]

    return {
        "n_chars": n_chars,
        "n_words": len(split_words(text)),
        "n_prose_words": len(prose_words),
        "mean_word_len": _mean_word_len(prose_words),
        "alpha_ratio": _alpha_ratio(prose_words),
        "symbol_ratio": _symbol_ratio(split.prose),
        "frac_lines_end_punct": _frac_lines_end_punct(prose_lines),
        "dup_line_frac": _dup_line_frac(prose_lines),
        "top_2gram_frac": _top_2gram_frac(prose_words),
        "frac_code": split.code_chars / n_chars if n_chars else 0.0,
        "frac_math": split.math_chars / n_chars if n_chars else 0.0,
        "frac_short_lines": _frac_short_lines(prose_lines),
        "boilerplate_line_frac": _boilerplate_line_frac(prose_lines),
        "dup_5gram_frac": _dup_ngram_frac(prose_words, 5),
    }


def _frac_short_lines(lines: list[str]) -> float:
    if not lines:
        return 0.0
    return sum(1 for line in lines if len(line) <= SHORT_LINE_CHARS) / len(lines)


def _boilerplate_line_frac(lines: list[str]) -> float:
    if not lines:
        return 0.0
    lowered = (line.lower() for line in lines)
    return sum(1 for line in lowered if any(phrase in line for phrase in BOILERPLATE_PHRASES)) / len(lines)


def _dup_ngram_frac(words: list[str], n: int) -> float:
    # Characters of words inside word n-grams that occur more than once, per character of all
    # words (the Gopher "duplicate n-gram" rule); overlapping repeats count each word once.
    if len(words) < n:
        return 0.0
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    in_repeat = [False] * len(words)
    for start, gram in enumerate(grams):
        if counts[gram] > 1:
            for position in range(start, start + n):
                in_repeat[position] = True
    total = sum(len(word) for word in words)
    repeated = sum(len(word) for word, flag in zip(words, in_repeat) if flag)
    return repeated / total if total else 0.0


def _mean_word_len(words: list[str]) -> float:
    return sum(len(word) for word in words) / len(words) if words else 0.0


def _alpha_ratio(words: list[str]) -> float:
    # Word-level, as in the Gopher rules: the fraction of words with at least one letter.
    # CJK ideographs count as letters (str.isalpha is true for them). Arithmetic tokens are
    # left out, so a calculation written without $ delimiters ("(-5)/(-3) = 5/3") does not
    # count against the prose around it. A page of nothing but numbers still scores 0.
    judged = [word for word in words if not _ARITHMETIC_PATTERN.fullmatch(word)]
    if not judged:
        return 0.0
    return sum(1 for word in judged if any(char.isalpha() for char in word)) / len(judged)


def _symbol_ratio(prose: str) -> float:
    # Unicode symbols (categories Sm, Sc, Sk, So: emoji, arrows, currency, stray math) plus
    # "#" and "…", per non-whitespace character of prose.
    visible = [char for char in prose if not char.isspace()]
    if not visible:
        return 0.0
    symbols = sum(
        1 for char in visible if char in "#…" or unicodedata.category(char).startswith("S")
    )
    return symbols / len(visible)


def _frac_lines_end_punct(lines: list[str]) -> float:
    if not lines:
        return 0.0
    ending = sum(1 for line in lines if line.rstrip(_CLOSING_MARKS)[-1:] in _END_PUNCTUATION)
    return ending / len(lines)


def _dup_line_frac(lines: list[str]) -> float:
    # Characters in repeats of a line, the first occurrence not counted: a page that contains
    # one line twice among 100 lines of the same length scores 0.01.
    total = sum(len(line) for line in lines)
    if not total:
        return 0.0
    seen: set[str] = set()
    repeated = 0
    for line in lines:
        if line in seen:
            repeated += len(line)
        seen.add(line)
    return repeated / total


def _top_2gram_frac(words: list[str]) -> float:
    # Characters covered by every occurrence of the most frequent word 2-gram, per character
    # of all words (the Gopher "top n-gram" rule with n = 2).
    if len(words) < 2:
        return 0.0
    counts = Counter(zip(words, words[1:]))
    (first, second), count = counts.most_common(1)[0]
    total = sum(len(word) for word in words)
    return min(1.0, count * (len(first) + len(second)) / total)


class HeuristicSignals:
    """Append the heuristic signal columns to each kept document.

    The counts (``n_chars``, ``n_words``, ``n_prose_words``) are int32, the others float32.
    Dropped rows get nulls, and a kept row whose ``text`` is null is measured as empty text.
    """

    def __call__(self, table: pa.Table) -> pa.Table:
        keep = kept_mask(table).to_pylist()
        texts = table.column("text").to_pylist()
        columns: dict[str, list] = {name: [] for name in SIGNAL_COLUMNS}
        for is_kept, text in zip(keep, texts):
            signals = compute_signals(text or "") if is_kept else dict.fromkeys(SIGNAL_COLUMNS)
            for name in SIGNAL_COLUMNS:
                columns[name].append(signals[name])

        for name in INT_SIGNALS:
            table = set_column(table, name, pa.array(columns[name], pa.int32()))
        for name in FLOAT_SIGNALS:
            table = set_column(table, name, pa.array(columns[name], pa.float32()))
        return table


_FRACTION_FIELDS = (
    "max_dup_line_frac",
    "max_top_2gram_frac",
    "max_symbol_ratio",
    "min_alpha_ratio",
    "max_short_line_frac",
    "max_boilerplate_line_frac",
    "max_dup_5gram_frac",
)


@dataclass(kw_only=True)
class HeuristicFilterConfig:
    """Thresholds of :class:`HeuristicFilter`; a ``None`` threshold disables its rule.

    Where a rule has a counterpart in the Gopher rules (Rae et al. 2021, arXiv:2112.11446,
    table A1), the default is the Gopher value, applied here to prose only.
    """

    # Minimum words in the whole text, code and math included; fewer drop as "too_short".
    min_words: int | None = 50
    # Minimum prose words for the prose rules below to apply. A page with less prose than
    # this is mostly code or math, and its few prose words are too few to judge it by.
    min_prose_words: int = 20
    # Maximum fraction of prose characters in repeated lines; above drops "repetitive_lines".
    max_dup_line_frac: float | None = 0.3
    # Maximum fraction of prose characters covered by the top word 2-gram; above drops
    # "repetitive_ngrams" (Gopher uses 0.20).
    max_top_2gram_frac: float | None = 0.2
    # Maximum fraction of symbol characters in prose; above drops "high_symbols".
    max_symbol_ratio: float | None = 0.1
    # Minimum fraction of prose words with a letter; below drops "low_alpha" (Gopher: 0.8).
    min_alpha_ratio: float | None = 0.8
    # Maximum fraction of prose lines of at most SHORT_LINE_CHARS characters; above drops
    # "short_lines" (FineWeb uses 0.67). Off by default: lists of formulas or steps read as
    # short prose lines once their math is removed.
    max_short_line_frac: float | None = None
    # Maximum fraction of prose lines with a boilerplate phrase; above drops "boilerplate".
    max_boilerplate_line_frac: float | None = 0.5
    # Maximum fraction of prose characters in repeated word 5-grams; above drops
    # "repetitive_5grams" (Gopher uses 0.15). Off by default: worked solutions repeat
    # phrases such as "the number of ways to" by design.
    max_dup_5gram_frac: float | None = None

    def __post_init__(self) -> None:
        if self.min_words is not None and (not isinstance(self.min_words, int) or self.min_words < 0):
            raise ValueError(
                f"HeuristicFilterConfig.min_words must be an int >= 0 or None, got {self.min_words!r}"
            )
        if not isinstance(self.min_prose_words, int) or self.min_prose_words < 0:
            raise ValueError(
                "HeuristicFilterConfig.min_prose_words must be an int >= 0, "
                f"got {self.min_prose_words!r}"
            )
        for name in _FRACTION_FIELDS:
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"HeuristicFilterConfig.{name} must be a fraction in [0, 1] or None, "
                    f"got {value!r}"
                )


class HeuristicFilter:
    """Drop kept documents that fail a heuristic rule, with the rule's name as the reason.

    Reasons, checked in this order: "no_text", "too_short", "repetitive_lines",
    "repetitive_ngrams", "repetitive_5grams", "high_symbols", "low_alpha", "short_lines",
    "boilerplate". Signal columns already present are
    reused; missing ones are computed with :class:`HeuristicSignals` and appended.
    """

    step = "heuristics"

    def __init__(self, **fields) -> None:
        self.config = HeuristicFilterConfig(**fields)
        self._signals = HeuristicSignals()

    def __call__(self, table: pa.Table) -> pa.Table:
        if any(name not in table.column_names for name in SIGNAL_COLUMNS):
            table = self._signals(table)
        keep = kept_mask(table).to_pylist()
        texts = table.column("text").to_pylist()
        rows = table.select(list(SIGNAL_COLUMNS)).to_pylist()
        reasons = [
            self.drop_reason(text, signals) if is_kept else None
            for is_kept, text, signals in zip(keep, texts, rows)
        ]
        return mark_dropped(table, reasons, step=self.step)

    def drop_reason(self, text: str | None, signals: dict) -> str | None:
        """Return the first rule that ``signals`` fail, or None when the document is kept."""
        config = self.config
        if text is None:
            return "no_text"
        if config.min_words is not None and signals["n_words"] < config.min_words:
            return "too_short"
        if signals["n_prose_words"] < config.min_prose_words:
            return None
        if _above(signals["dup_line_frac"], config.max_dup_line_frac):
            return "repetitive_lines"
        if _above(signals["top_2gram_frac"], config.max_top_2gram_frac):
            return "repetitive_ngrams"
        if _above(signals["dup_5gram_frac"], config.max_dup_5gram_frac):
            return "repetitive_5grams"
        if _above(signals["symbol_ratio"], config.max_symbol_ratio):
            return "high_symbols"
        if config.min_alpha_ratio is not None and signals["alpha_ratio"] < config.min_alpha_ratio:
            return "low_alpha"
        if _above(signals["frac_short_lines"], config.max_short_line_frac):
            return "short_lines"
        if _above(signals["boilerplate_line_frac"], config.max_boilerplate_line_frac):
            return "boilerplate"
        return None


def _above(value: float, limit: float | None) -> bool:
    return limit is not None and value > limit
