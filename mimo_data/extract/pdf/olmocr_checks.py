"""Checks of Markdown against olmOCR-bench style unit tests: present, absent, order, table, math.

Each test is one JSON object with a ``type``. Text is compared after whitespace, quote and
dash normalisation; ``max_diffs`` allows that many edits (Levenshtein) in a match.

NOTE: olmOCR-bench renders math with KaTeX and compares glyph layouts. Here a math test
passes when the expected LaTeX, tokenised and normalised (no ``\\left``/``\\right``,
``\\operatorname{X}`` read as X, scripts always braced), is a contiguous token run of one
formula in the Markdown. This is stricter about notation than rendering, so the math
scores are a lower bound of what the KaTeX check would give, not the same number.
"""

from __future__ import annotations

import re
import unicodedata

_QUOTES_AND_DASHES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "‑": "-", "−": "-"})
_EMPHASIS_RE = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")
_MATH_RE = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$([^$]+?)\$", re.DOTALL)
_LATEX_TOKEN_RE = re.compile(r"\\[A-Za-z]+|\\.|\S")
_DROPPED_TOKENS = {r"\left", r"\right", r"\,", r"\;", r"\!", r"\:", r"\quad", r"\qquad", r"\limits", r"\displaystyle", r"\big", r"\Big"}
_UNWRAPPED_COMMANDS = {r"\operatorname", r"\mathrm", r"\text", r"\mathit", r"\textrm"}
_TOKEN_ALIASES = {"'": [r"^", "{", r"\prime", "}"], "−": ["-"], r"\lbrace": [r"\{"], r"\rbrace": [r"\}"], r"\le": [r"\leq"], r"\ge": [r"\geq"], r"\varepsilon": [r"\epsilon"]}


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_QUOTES_AND_DASHES)
    text = _EMPHASIS_RE.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


def fuzzy_positions(needle: str, haystack: str, max_diffs: int) -> list[int]:
    """Return the end offsets in ``haystack`` where ``needle`` matches with at most ``max_diffs`` edits."""
    if max_diffs == 0 or needle in haystack:
        ends, start = [], haystack.find(needle)
        while start >= 0:
            ends.append(start + len(needle))
            start = haystack.find(needle, start + 1)
        if ends or max_diffs == 0:
            return ends
    # Sellers' algorithm: edit distance of the needle to the best substring ending at each offset.
    previous = list(range(len(needle) + 1))
    ends = []
    for offset, char in enumerate(haystack):
        current = [0]
        for index, needle_char in enumerate(needle, start=1):
            current.append(min(previous[index] + 1, current[index - 1] + 1, previous[index - 1] + (needle_char != char)))
        if current[-1] <= max_diffs:
            ends.append(offset + 1)
        previous = current
    return ends


def latex_tokens(latex: str) -> list[str]:
    """Split LaTeX into normalised tokens so that equivalent spellings compare equal."""
    raw = [token for token in _LATEX_TOKEN_RE.findall(latex) if token not in _DROPPED_TOKENS]
    tokens: list[str] = []
    index = 0
    while index < len(raw):
        token = raw[index]
        index += 1
        if token in _UNWRAPPED_COMMANDS:
            # Keep the letters of \operatorname{Ann}, drop the command and its braces.
            depth = 0
            while index < len(raw):
                inner = raw[index]
                index += 1
                depth += {"{": 1, "}": -1}.get(inner, 0)
                if inner not in "{}":
                    tokens.append(inner)
                if depth == 0:
                    break
            continue
        tokens.extend(_TOKEN_ALIASES.get(token, [token]))
    return _brace_scripts(tokens)


def _brace_scripts(tokens: list[str]) -> list[str]:
    """Wrap a one-token script in braces, so ``x^2`` and ``x^{2}`` give the same tokens."""
    result: list[str] = []
    for index, token in enumerate(tokens):
        result.append(token)
        if token in "^_" and index + 1 < len(tokens) and tokens[index + 1] != "{":
            result.append("{")
        if index > 0 and tokens[index - 1] in "^_" and token != "{":
            result.append("}")
    return result


def math_spans(markdown: str) -> list[str]:
    return [next(group for group in match.groups() if group is not None) for match in _MATH_RE.finditer(markdown)]


def _contains(tokens: list[str], part: list[str]) -> bool:
    return any(tokens[start : start + len(part)] == part for start in range(len(tokens) - len(part) + 1))


def check(test: dict, markdown: str) -> bool:
    """Tell whether ``markdown`` passes one test."""
    kind = test["type"]
    if kind == "math":
        expected = latex_tokens(test["math"])
        return any(_contains(latex_tokens(formula), expected) for formula in math_spans(markdown))
    if kind == "table":
        return _check_table(test, markdown)
    text = normalize_text(markdown)
    max_diffs = int(test.get("max_diffs", 0))
    if kind in ("present", "absent"):
        found = bool(fuzzy_positions(normalize_text(test["text"]), text, max_diffs))
        return found if kind == "present" else not found
    if kind == "order":
        before = fuzzy_positions(normalize_text(test["before"]), text, max_diffs)
        after_text = normalize_text(test["after"])
        after = [end - len(after_text) for end in fuzzy_positions(after_text, text, max_diffs)]
        return bool(before and after) and min(before) <= max(after) + max_diffs
    raise ValueError(f"unknown test type {kind!r} in test {test.get('id')!r}: expected present, absent, order, table or math")


def markdown_tables(markdown: str) -> list[list[list[str]]]:
    """Parse the pipe tables of a Markdown text into rows of normalised cells, separator rows left out."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in markdown.splitlines() + [""]:
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = [normalize_text(cell) for cell in re.split(r"(?<!\\)\|", stripped[1:-1])]
            if not all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _check_table(test: dict, markdown: str) -> bool:
    wanted = normalize_text(test["cell"])
    for rows in markdown_tables(markdown):
        for row_index, row in enumerate(rows):
            for column, cell in enumerate(row):
                if cell == wanted and _neighbours_match(test, rows, row_index, column):
                    return True
    return False


def _cell(rows: list[list[str]], row: int, column: int) -> str | None:
    if 0 <= row < len(rows) and 0 <= column < len(rows[row]):
        return rows[row][column]
    return None


def _neighbours_match(test: dict, rows: list[list[str]], row: int, column: int) -> bool:
    expected = {
        "up": _cell(rows, row - 1, column),
        "down": _cell(rows, row + 1, column),
        "left": _cell(rows, row, column - 1),
        "right": _cell(rows, row, column + 1),
        "top_heading": _cell(rows, 0, column),
        "left_heading": _cell(rows, row, 0),
    }
    return all(expected[key] == normalize_text(test[key]) for key in expected if test.get(key))
