"""Spans and lines read from pymupdf's page dictionary, with Unicode clean-up and font classes."""

from __future__ import annotations

import functools
import re
import statistics
import unicodedata
from dataclasses import dataclass, field

# Span flag bits of pymupdf (pymupdf.TEXT_FONT_ITALIC, TEXT_FONT_MONOSPACED, TEXT_FONT_BOLD).
_ITALIC_FLAG = 2
_MONOSPACED_FLAG = 8
_BOLD_FLAG = 16
_MONOSPACED_FONT_RE = re.compile(r"mono|courier|consol|menlo|inconsolata|cmtt|sfmono", re.IGNORECASE)
# TeX math fonts (Computer Modern math italic, symbols, extension, AMS) and common math fonts.
_MATH_FONT_RE = re.compile(r"^(cmmi|cmsy|cmex|msam|msbm|eufm|rsfs|stix.*math)|math|symbol|cambria math", re.IGNORECASE)
_ITALIC_FONT_RE = re.compile(r"ital|oblique|-it\b|cmmi", re.IGNORECASE)
_BOLD_FONT_RE = re.compile(r"bold|-bd|cmbx", re.IGNORECASE)

# Characters that only occur in formulas: Greek letters and mathematical operators.
MATH_CHARS = set("∑∫∏∮∈∉∋×⋅·−±∓≤≥≠≈≡∼≅∝∞∂∇→←↔⇒⇐⇔↦⊂⊃⊆⊇∪∩∧∨¬∀∃∅√′″⊗⊕∘⟨⟩∥⊥ℓℝℕℤℚℂ") | {
    chr(code) for code in range(0x391, 0x3CA) if unicodedata.category(chr(code)).startswith("L")
}

# Ligatures and typographic characters replaced by their plain forms before any matching.
_CHARACTER_REPLACEMENTS = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
    "\u00a0": " ",  # non-breaking space
    "\u2009": " ",  # thin space
    "\u202f": " ",  # narrow non-breaking space
    "\u00ad": "",  # soft hyphen
    "\u200b": "",  # zero-width space
    "\ufeff": "",
    "\u2018\u2018": "\u201c",  # TeX fonts set double quotes as two single ones
    "\u2019\u2019": "\u201d",
}
_REPLACEMENT_RE = re.compile("|".join(map(re.escape, _CHARACTER_REPLACEMENTS)))

# TeX fonts draw accents as separate spacing glyphs placed before the letter, so
# "Ján Mináč" comes out as "J´an Min´aˇc". Each maps to its combining character.
_SPACING_ACCENTS = {
    "\u00b4": "\u0301",  # acute
    "\u02c7": "\u030c",  # caron
    "\u00a8": "\u0308",  # diaeresis
    "\u02dc": "\u0303",  # tilde
    "\u02c6": "\u0302",  # circumflex
    "\u02d8": "\u0306",  # breve
    "\u02d9": "\u0307",  # dot above
    "\u02da": "\u030a",  # ring above
}
_SPACING_ACCENT_RE = re.compile("([" + "".join(_SPACING_ACCENTS) + "])([A-Za-z])")
# A word of three or more letters marks prose; formulas have single-letter names.
_PROSE_WORD_RE = re.compile(r"[^\W\d_]{3,}")
# Prose words of 20 or more letters are rare, so a span with such a letter run is read
# again glyph by glyph to find missing spaces. Real long words are kept, as their glyph
# gaps are even.
_GLUED_RUN_RE = re.compile(r"[^\W\d_]{20,}")
# A gap between two glyphs this many ems wider than the span's median gap is a word space.
# Measured on a tightly justified journal PDF whose spaces are missing: word gaps were
# 0.16 em above the median, and gaps inside words varied by less than 0.05 em.
_WORD_GAP_EM = 0.1
# Lines of two blocks whose vertical centres are at most this many ems apart, and
# whose boxes overlap horizontally, are one text line split by pymupdf.
_SAME_BASELINE_EM = 0.35
# Joined lines differ in size by at most this factor, so a drop cap stays apart.
_JOINED_SIZE_RATIO = 1.3
# A span with fewer glyph gaps than this has no reliable median gap of its own.
_MIN_MEDIAN_GAPS = 9


def clean_text(text: str) -> str:
    """Replace ligatures, odd spaces and soft hyphens, and compose TeX spacing accents."""
    if text.isascii():  # every character replaced below is outside ASCII
        return text
    text = _REPLACEMENT_RE.sub(lambda match: _CHARACTER_REPLACEMENTS[match.group(0)], text)
    if _SPACING_ACCENT_RE.search(text):
        text = _SPACING_ACCENT_RE.sub(lambda match: match.group(2) + _SPACING_ACCENTS[match.group(1)], text)
        text = unicodedata.normalize("NFC", text)
    return text


@functools.lru_cache(maxsize=4096)
def _font_classes(font: str, flags: int) -> tuple[bool, bool, bool, bool]:
    """Return (monospaced, italic, bold, math font) for a font name and pymupdf's span flags."""
    return (
        bool(flags & _MONOSPACED_FLAG or _MONOSPACED_FONT_RE.search(font)),
        bool(flags & _ITALIC_FLAG or _ITALIC_FONT_RE.search(font)),
        bool(flags & _BOLD_FLAG or _BOLD_FONT_RE.search(font)),
        bool(_MATH_FONT_RE.search(font)),
    )


@dataclass(slots=True)
class Span:
    """One run of text in one font, with its box in points (y grows downwards).

    The font classes and the text tests are computed once here, because layout and
    formula code ask for them many times per span.
    """

    text: str
    font: str
    size: float
    flags: int
    bbox: tuple[float, float, float, float]
    monospaced: bool = field(init=False)
    italic: bool = field(init=False)
    bold: bool = field(init=False)
    math_font: bool = field(init=False)
    y_mid: float = field(init=False)
    _prose_word: bool = field(init=False)
    _math_like: bool = field(init=False)

    def __post_init__(self) -> None:
        self.monospaced, self.italic, self.bold, self.math_font = _font_classes(self.font, self.flags)
        self.y_mid = (self.bbox[1] + self.bbox[3]) / 2
        self._prose_word = not self.math_font and bool(_PROSE_WORD_RE.search(self.text))
        self._math_like = self._classify_math()

    def has_prose_word(self) -> bool:
        return self._prose_word

    def looks_like_math(self) -> bool:
        """Tell whether the span is set as a formula: a math font, a math character or an italic letter."""
        return self._math_like

    def _classify_math(self) -> bool:
        stripped = self.text.strip()
        if not stripped or self._prose_word:
            return False
        # Every character of MATH_CHARS is outside ASCII.
        if self.math_font or (not stripped.isascii() and not MATH_CHARS.isdisjoint(stripped)):
            return True
        return self.italic and len(stripped) <= 2 and stripped.isalpha()


class Line:
    """Spans on one baseline, left to right, that pymupdf put in one line and no wide gap splits.

    A line is never changed after it is built, so its box, size and text are computed once.
    """

    __slots__ = ("spans", "block", "bbox", "size", "y_mid", "monospaced", "_prose_word", "_text")

    def __init__(self, spans: list[Span], block: int) -> None:
        self.spans = spans
        self.block = block
        x0, y0, x1, y1 = spans[0].bbox
        size = spans[0].size
        for span in spans[1:]:
            x0, y0 = min(x0, span.bbox[0]), min(y0, span.bbox[1])
            x1, y1 = max(x1, span.bbox[2]), max(y1, span.bbox[3])
            size = max(size, span.size)
        self.bbox = (x0, y0, x1, y1)
        self.size = size
        self.y_mid = (self.bbox[1] + self.bbox[3]) / 2
        self.monospaced = all(span.monospaced for span in spans if span.text.strip())
        self._prose_word = any(span._prose_word for span in spans)
        self._text: str | None = None

    def __repr__(self) -> str:
        return f"Line({self.text!r}, block={self.block}, bbox={self.bbox})"

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = join_spans(self.spans)
        return self._text

    def has_prose_word(self) -> bool:
        return self._prose_word


def has_glued_words(page_dict: dict) -> bool:
    """Tell whether a page dictionary has a span with a long letter run, a sign of missing word spaces.

    NOTE: a page whose glued runs are all shorter than 20 letters keeps its glued words.
    """
    page_text = "\n".join(
        span["text"] for block in page_dict.get("blocks", []) for line in block.get("lines", []) for span in line["spans"]
    )
    return _GLUED_RUN_RE.search(page_text) is not None


def respace_glued_words(raw_dict: dict) -> dict:
    """Give each span of a ``rawdict`` page dictionary a "text", with spaces at wide glyph gaps.

    Some PDFs position words without space glyphs and with gaps too narrow for
    pymupdf's own space detection, so their words come out glued ("pretrainingdata").
    On such a page, every span in a text font gets a space wherever the gap between two
    glyphs is wider than the median gap by ``_WORD_GAP_EM``. The median is the span's
    own, or the page's (in ems) for spans too short to have one. Monospaced and math
    fonts keep their text, because their glyph gaps do not mark words.
    """
    spans = [span for block in raw_dict.get("blocks", []) for line in block.get("lines", []) for span in line.get("spans", [])]
    page_gaps = [
        gap / span["size"]
        for span in spans
        if _respaced(span) and span["size"] > 0
        for gap in _glyph_gaps(span["chars"])
    ]
    page_median_em = statistics.median(page_gaps) if page_gaps else 0.0
    for span in spans:
        chars = span["chars"]
        if not _respaced(span) or len(chars) < 2:
            span["text"] = "".join(char["c"] for char in chars)
            continue
        gaps = _glyph_gaps(chars)
        median = statistics.median(gaps) if len(gaps) >= _MIN_MEDIAN_GAPS else page_median_em * span["size"]
        span["text"] = _spaced_text(chars, median + _WORD_GAP_EM * span["size"])
    return raw_dict


def _respaced(span: dict) -> bool:
    monospaced, _, _, math_font = _font_classes(span.get("font", ""), span.get("flags", 0))
    return not monospaced and not math_font


def _glyph_gaps(chars: list[dict]) -> list[float]:
    """Return the gaps between neighbouring glyphs that are not spaces, in points."""
    return [
        following["bbox"][0] - char["bbox"][2]
        for char, following in zip(chars, chars[1:])
        if not char["c"].isspace() and not following["c"].isspace()
    ]


def _spaced_text(chars: list[dict], word_gap: float) -> str:
    text = chars[0]["c"]
    for char, following in zip(chars, chars[1:]):
        gap = following["bbox"][0] - char["bbox"][2]
        if gap > word_gap and not char["c"].isspace() and not following["c"].isspace():
            text += " "
        text += following["c"]
    return text


def join_spans(spans: list[Span]) -> str:
    """Concatenate span texts, adding a space where the gap between two spans is a word space."""
    if len(spans) == 1:
        return spans[0].text
    parts = [spans[0].text]
    previous = spans[0]
    for span in spans[1:]:
        gap = span.bbox[0] - previous.bbox[2]
        if gap > 0.15 * span.size and not parts[-1].endswith(" ") and not span.text.startswith(" "):
            parts.append(" ")
        parts.append(span.text)
        previous = span
    return "".join(parts)


def page_lines(page_dict: dict) -> list[Line]:
    """Read the text lines of a page, splitting a pymupdf line where a gap is wider than one em.

    pymupdf keeps table cells and side-by-side formulas in one line when they share a
    baseline; a gap of more than one em between spans is a column or cell boundary.
    Spaces between spans are not kept as spans, because join_spans puts them back from gaps.
    """
    lines: list[Line] = []
    for block_number, block in enumerate(page_dict.get("blocks", [])):
        if block.get("type") != 0:  # 1 is an image
            continue
        for raw_line in block.get("lines", []):
            spans = []
            for raw in raw_line["spans"]:
                text = raw["text"]
                if raw["size"] < 1.0 or not text or text.isspace():
                    continue
                text = clean_text(text)
                if text.strip():
                    spans.append(Span(text, raw["font"], raw["size"], raw["flags"], tuple(raw["bbox"])))
            if spans:
                spans.sort(key=lambda span: span.bbox[0])
                lines.extend(_split_at_gaps(spans, block_number))
    return _join_split_lines(lines)


def _join_split_lines(lines: list[Line]) -> list[Line]:
    """Join lines of different blocks that continue each other on one baseline.

    pymupdf sometimes starts a new block in the middle of a text line, for example after
    a sum whose lower limit sits under its upper one ("that λ = ∑ᵏ" + "ᵢ₌₁ c(g, R)").
    Such lines share a baseline and their boxes overlap. Lines that only come close, as
    table cells and side-by-side columns do, stay apart.
    """
    by_row = sorted(lines, key=lambda line: line.y_mid)
    joined: dict[int, Line] = {}
    for index, first in enumerate(by_row):
        for second in by_row[index + 1 :]:
            size = max(first.size, second.size)
            if second.y_mid - first.y_mid > _SAME_BASELINE_EM * size:
                break
            if first.block == second.block or id(first) in joined or id(second) in joined:
                continue
            left, right = (first, second) if first.bbox[0] <= second.bbox[0] else (second, first)
            similar_size = size <= _JOINED_SIZE_RATIO * min(first.size, second.size)
            if right.bbox[0] < left.bbox[2] and similar_size:
                merged = Line(sorted(left.spans + right.spans, key=lambda span: span.bbox[0]), left.block)
                joined[id(left)] = merged
                joined[id(right)] = merged
    if not joined:
        return lines
    # NOTE: the joined line's spans are ordered by x alone, so text stacked inside one of
    # the two lines (a fraction in a script) comes out interleaved.
    result: list[Line] = []
    added: set[int] = set()
    for line in lines:
        merged = joined.get(id(line), line)
        if id(merged) not in added:
            added.add(id(merged))
            result.append(merged)
    return result


def _split_at_gaps(spans: list[Span], block: int) -> list[Line]:
    groups: list[list[Span]] = []
    for span in spans:
        if groups and span.bbox[0] - groups[-1][-1].bbox[2] <= max(span.size, groups[-1][-1].size):
            groups[-1].append(span)
        else:
            groups.append([span])
    return [Line(group, block) for group in groups]
