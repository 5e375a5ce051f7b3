"""Locate code and math regions in extracted Markdown, so prose can be measured apart.

The extractors emit code as fenced blocks (three or more backticks or tildes) and inline
`code` spans, and math as ``$…$``, ``$$…$$``, ``\\(…\\)`` and ``\\[…\\]``. Language
identification and the prose heuristics run on the text with those regions removed, because
formulas and source code would otherwise read as noise or as a foreign language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# One alternation, so a single left-to-right scan settles overlaps: a `$` inside a code fence
# belongs to the fence, a backtick inside display math belongs to the math.
_MARKUP_PATTERN = re.compile(
    r"""
    # A fenced code block. An unclosed fence runs to the end of the text.
    (?P<fence>
        ^[ ]{0,3}(?P<fence_mark>`{3,}|~{3,})[^\n]*\n
        .*?
        (?:^[ ]{0,3}(?P=fence_mark)[`~]*[ \t]*$|\Z)
    )
    # NOTE: dollar runs in plain text ("$$$ deals $$$") also read as display math.
    | (?P<display_dollar>\$\$.+?\$\$)
    | (?P<display_bracket>\\\[.+?\\\])
    | (?P<inline_paren>\\\(.+?\\\))
    # Inline $…$ follows the Pandoc rule (no space after the opening or before the closing
    # dollar, no digit right after the closing one), so "costs $5 and $10" stays prose.
    | (?P<inline_dollar>(?<![\\$])\$(?=[^\s$])[^$\n]*?(?<=[^\s\\$])\$(?!\d))
    | (?P<inline_code>`[^`\n]+`)
    """,
    re.MULTILINE | re.DOTALL | re.VERBOSE,
)

_CODE_GROUPS = frozenset({"fence", "inline_code"})

# Hiragana, Katakana, CJK Extension A, CJK Unified Ideographs, CJK Compatibility Ideographs,
# and the supplementary ideograph planes, as a regex character-class body. Hangul is left
# out because Korean separates words with spaces.
CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"


@dataclass(frozen=True)
class MarkupSplit:
    """Text of a document with code and math removed, and the character counts removed."""

    prose: str  # the text with each code or math region replaced by one space or newline
    code_chars: int  # characters inside fences and inline code spans, delimiters included
    math_chars: int  # characters inside math delimiters, delimiters included


def split_markup(text: str) -> MarkupSplit:
    """Split Markdown ``text`` into prose and the sizes of its code and math regions.

    A fenced block is replaced by a newline, so the lines around it stay separate lines. An
    inline region is replaced by a space, so the words around it stay separate words.
    """
    pieces: list[str] = []
    code_chars = 0
    math_chars = 0
    position = 0
    for match in _MARKUP_PATTERN.finditer(text):
        pieces.append(text[position : match.start()])
        size = match.end() - match.start()
        if match.lastgroup in _CODE_GROUPS:
            code_chars += size
        else:
            math_chars += size
        pieces.append("\n" if match.lastgroup == "fence" else " ")
        position = match.end()
    pieces.append(text[position:])
    return MarkupSplit(prose="".join(pieces), code_chars=code_chars, math_chars=math_chars)


@dataclass(frozen=True)
class MarkupCounts:
    """Numbers of code and math regions in a document, for densities per word."""

    formulas: int  # inline and display math regions
    code_blocks: int  # fenced code blocks
    code_lines: int  # non-blank lines inside fenced code blocks


def count_markup(text: str) -> MarkupCounts:
    """Count the math regions, fenced code blocks and their non-blank lines in ``text``."""
    formulas = code_blocks = code_lines = 0
    for match in _MARKUP_PATTERN.finditer(text):
        if match.lastgroup == "fence":
            code_blocks += 1
            # The first line is the opening fence and the last the closing fence.
            body = match.group(0).splitlines()[1:-1]
            code_lines += sum(1 for line in body if line.strip())
        elif match.lastgroup not in _CODE_GROUPS:
            formulas += 1
    return MarkupCounts(formulas=formulas, code_blocks=code_blocks, code_lines=code_lines)
