"""Paths into the shared test corpus and formula-recall helpers for the extract tests."""

from __future__ import annotations

import re
from pathlib import Path

# The shared corpus lives beside the repository root, in CI as well as locally.
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"

# $$…$$ first so that its dollars are not read as two empty inline formulas.
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$]+?)\$", re.DOTALL)


def squeeze(text: str) -> str:
    """Remove all whitespace, so line breaks and indentation inside formulas do not matter."""
    return re.sub(r"\s+", "", text)


def expected_formulas(html_path: Path) -> list[str]:
    """Return the expected inline and display formulas listed beside a webkit__*.html page."""
    formulas = []
    for kind in ("inline", "display"):
        listing = html_path.with_name(html_path.name.replace(".html", f".expected_{kind}_formulas.txt"))
        formulas.extend(line for line in listing.read_text(encoding="utf-8").splitlines() if line.strip())
    return formulas


def math_spans(markdown: str) -> list[str]:
    """Return the contents of the $…$ and $$…$$ spans of a Markdown text."""
    return [match.group(1) or match.group(2) for match in _MATH_SPAN_RE.finditer(markdown)]


def count_found(markdown: str, formulas: list[str]) -> tuple[int, int]:
    """Return (found inside math delimiters, found anywhere) for the expected formulas."""
    delimited = "\x00".join(squeeze(span) for span in math_spans(markdown))
    anywhere = squeeze(markdown)
    in_math = sum(1 for formula in formulas if squeeze(formula) in delimited)
    in_text = sum(1 for formula in formulas if squeeze(formula) in anywhere)
    return in_math, in_text
