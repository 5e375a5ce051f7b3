"""Spans and lines read from pymupdf's page dictionary, with Unicode clean-up and font classes."""

from __future__ import annotations

import re
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


def clean_text(text: str) -> str:
    """Replace ligatures, odd spaces and soft hyphens, and compose TeX spacing accents."""
    text = _REPLACEMENT_RE.sub(lambda match: _CHARACTER_REPLACEMENTS[match.group(0)], text)
    if _SPACING_ACCENT_RE.search(text):
        text = _SPACING_ACCENT_RE.sub(lambda match: match.group(2) + _SPACING_ACCENTS[match.group(1)], text)
        text = unicodedata.normalize("NFC", text)
    return text


@dataclass
class Span:
    """One run of text in one font, with its box in points (y grows downwards)."""

    text: str
    font: str
    size: float
    flags: int
    bbox: tuple[float, float, float, float]

    @property
    def monospaced(self) -> bool:
        return bool(self.flags & _MONOSPACED_FLAG or _MONOSPACED_FONT_RE.search(self.font))

    @property
    def italic(self) -> bool:
        return bool(self.flags & _ITALIC_FLAG or _ITALIC_FONT_RE.search(self.font))

    @property
    def bold(self) -> bool:
        return bool(self.flags & _BOLD_FLAG or _BOLD_FONT_RE.search(self.font))

    @property
    def math_font(self) -> bool:
        return bool(_MATH_FONT_RE.search(self.font))

    @property
    def y_mid(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2

    def has_prose_word(self) -> bool:
        return not self.math_font and bool(_PROSE_WORD_RE.search(self.text))

    def looks_like_math(self) -> bool:
        """Tell whether the span is set as a formula: a math font, a math character or an italic letter."""
        stripped = self.text.strip()
        if not stripped or self.has_prose_word():
            return False
        if self.math_font or any(char in MATH_CHARS for char in stripped):
            return True
        return self.italic and len(stripped) <= 2 and stripped.isalpha()


@dataclass
class Line:
    """Spans on one baseline, left to right, that pymupdf put in one line and no wide gap splits."""

    spans: list[Span]
    block: int
    bbox: tuple[float, float, float, float] = field(init=False)

    def __post_init__(self) -> None:
        self.bbox = (
            min(span.bbox[0] for span in self.spans),
            min(span.bbox[1] for span in self.spans),
            max(span.bbox[2] for span in self.spans),
            max(span.bbox[3] for span in self.spans),
        )

    @property
    def size(self) -> float:
        return max(span.size for span in self.spans)

    @property
    def y_mid(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2

    @property
    def text(self) -> str:
        return join_spans(self.spans)

    @property
    def monospaced(self) -> bool:
        return all(span.monospaced for span in self.spans if span.text.strip())

    def has_prose_word(self) -> bool:
        return any(span.has_prose_word() for span in self.spans)


def join_spans(spans: list[Span]) -> str:
    """Concatenate span texts, adding a space where the gap between two spans is a word space."""
    text = ""
    previous: Span | None = None
    for span in spans:
        gap = span.bbox[0] - previous.bbox[2] if previous else 0.0
        if previous and gap > 0.15 * span.size and not text.endswith(" ") and not span.text.startswith(" "):
            text += " "
        text += span.text
        previous = span
    return text


def page_lines(page_dict: dict) -> list[Line]:
    """Read the text lines of a page, splitting a pymupdf line where a gap is wider than one em.

    pymupdf keeps table cells and side-by-side formulas in one line when they share a
    baseline; a gap of more than one em between spans is a column or cell boundary.
    """
    lines: list[Line] = []
    for block_number, block in enumerate(page_dict.get("blocks", [])):
        if block.get("type") != 0:  # 1 is an image
            continue
        for raw_line in block.get("lines", []):
            spans = [
                Span(clean_text(raw["text"]), raw.get("font", ""), raw.get("size", 0.0), raw.get("flags", 0), tuple(raw["bbox"]))
                for raw in raw_line.get("spans", [])
            ]
            spans = [span for span in spans if span.text.strip() and span.size >= 1.0]
            lines.extend(_split_at_gaps(sorted(spans, key=lambda span: span.bbox[0]), block_number))
    return lines


def _split_at_gaps(spans: list[Span], block: int) -> list[Line]:
    groups: list[list[Span]] = []
    for span in spans:
        if groups and span.bbox[0] - groups[-1][-1].bbox[2] <= max(span.size, groups[-1][-1].size):
            groups[-1].append(span)
        else:
            groups.append([span])
    return [Line(group, block) for group in groups]
