"""One page to Markdown: paragraphs, code fences, inline and display math, tables, in reading order."""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter
from dataclasses import dataclass

import pymupdf

from mimo_data.extract.pdf.formula import FormulaLayoutError, Rule, formula_latex
from mimo_data.extract.pdf.layout import Item, drop_page_furniture, formula_regions, reading_order
from mimo_data.extract.pdf.spans import Line, Span, join_spans
from mimo_data.extract.pdf.table import find_tables

logger = logging.getLogger(__name__)

# Text lines whose vertical centres are this close (in points) share a row.
_SAME_ROW_POINTS = 2.0
# A hyphen after a letter at a line end, with a lower-case letter opening the next
# line, splits a word ("volup-" + "tua"). Any other hyphen is kept.
_HYPHENATED_END_RE = re.compile(r"(?<=[^\W\d_])-$")
# Drawn lines at most this tall (points) and at least this wide are fraction or radical rules.
_RULE_MAX_HEIGHT = 1.5
_RULE_MIN_WIDTH = 3.0
# Points around a formula region searched for its rules: a fraction rule overhangs its
# text, and a radical's overline can sit above the boxes of the glyphs under it.
_RULE_MARGIN = 3.0
# pymupdf's block type of vector paths read with TEXT_COLLECT_VECTORS.
_VECTOR_BLOCK = 3
# A span smaller than this share of the line's text size is a script (TeX sets scripts at 0.7).
_SCRIPT_SIZE_RATIO = 0.88


@dataclass
class PageText:
    """The Markdown of one page and how many formulas were rebuilt as LaTeX or kept as text."""

    markdown: str
    formulas_rebuilt: int = 0
    formulas_kept_as_text: int = 0


def page_markdown(page: pymupdf.Page, lines: list[Line], repeated_heads: set[str]) -> PageText:
    """Lay out one page's lines as Markdown blocks in reading order."""
    result = PageText("")
    lines = drop_page_furniture(lines, page.rect.height, repeated_heads)

    regions, text_lines = formula_regions(lines)
    tables, text_lines = find_tables(text_lines)
    rules = _horizontal_rules(page, [region for region in regions if _needs_rules(region)])

    items: list[Item] = []
    for region in regions:
        item = Item("formula", region)
        item.markdown = _display_formula(region, rules, result)
        items.append(item)
    for table_lines, markdown in tables:
        item = Item("table", table_lines)
        item.markdown = markdown
        items.append(item)
    for block_lines in _by_block(text_lines):
        if all(line.monospaced for line in block_lines):
            items.append(Item("code", block_lines))
        else:
            item = Item("text", block_lines)
            item.markdown = _prose_text(block_lines, result)
            items.append(item)

    ordered = _merge_code_items(reading_order(items))
    result.markdown = _join_blocks([item.markdown for item in ordered if item.markdown.strip()])
    return result


def _merge_code_items(items: list[Item]) -> list[Item]:
    """Fence consecutive monospaced items as one listing, so indentation is measured across all its lines."""
    merged: list[Item] = []
    for item in items:
        if item.kind == "code" and merged and merged[-1].kind == "code":
            merged[-1] = Item("code", merged[-1].lines + item.lines)
        else:
            merged.append(item)
    for item in merged:
        if item.kind == "code":
            item.markdown = "```\n" + _code_text(item.lines) + "\n```"
    return merged


def _needs_rules(region: list[Line]) -> bool:
    """Tell whether a formula may contain a fraction (stacked rows) or a radical, which need the drawn rules."""
    spans = [span for line in region for span in line.spans]
    return len(_span_rows(spans)) > 1 or any("√" in span.text for span in spans)


def _horizontal_rules(page: pymupdf.Page, regions: list[list[Line]]) -> list[Rule]:
    """Return the boxes of thin, wide vector paths (fraction and radical rules) inside the formula regions.

    A page with figures can have thousands of vector paths, so the page is read again
    with a clip around the regions that need rules, and only when there are any.
    """
    if not regions:
        return []
    clip = pymupdf.Rect()
    for region in regions:
        for line in region:
            clip |= line.bbox
    clip += (-_RULE_MARGIN, -_RULE_MARGIN, _RULE_MARGIN, _RULE_MARGIN)
    page_dict = page.get_text("dict", clip=clip, flags=pymupdf.TEXT_COLLECT_VECTORS | pymupdf.TEXT_MEDIABOX_CLIP)
    rules = []
    for block in page_dict.get("blocks", []):
        if block.get("type") != _VECTOR_BLOCK:
            continue
        x0, y0, x1, y1 = block["bbox"]
        if block.get("stroked"):
            # A stroked line's box grows by half the line width at each end.
            x0, x1 = x0 + (y1 - y0) / 2, x1 - (y1 - y0) / 2
        if y1 - y0 <= _RULE_MAX_HEIGHT and x1 - x0 >= _RULE_MIN_WIDTH:
            rules.append((x0, y0, x1, y1))
    return rules


def _display_formula(region: list[Line], rules: list[Rule], result: PageText) -> str:
    spans = [span for line in region for span in line.spans]
    x0 = min(line.bbox[0] for line in region)
    y0 = min(line.bbox[1] for line in region)
    x1 = max(line.bbox[2] for line in region)
    y1 = max(line.bbox[3] for line in region)
    margin = _RULE_MARGIN
    near = [rule for rule in rules if x0 - margin <= rule[0] and rule[2] <= x1 + margin and y0 - margin <= rule[1] <= y1]
    try:
        latex = formula_latex(spans, near)
    except FormulaLayoutError:
        # Keep the glyphs as Unicode text, row by row, rather than lose the formula.
        result.formulas_kept_as_text += 1
        return "\n".join(join_spans(row_spans) for row_spans in _span_rows(spans))
    result.formulas_rebuilt += 1
    return f"$${latex}$$"


def _span_rows(spans: list[Span]) -> list[list[Span]]:
    rows: list[list[Span]] = []
    for span in sorted(spans, key=lambda span: (span.y_mid, span.bbox[0])):
        if rows and abs(rows[-1][0].y_mid - span.y_mid) <= _SAME_ROW_POINTS:
            rows[-1].append(span)
        else:
            rows.append([span])
    return [sorted(row, key=lambda span: span.bbox[0]) for row in rows]


def _by_block(lines: list[Line]) -> list[list[Line]]:
    """Group lines by pymupdf block and column, splitting where a block switches between code and prose.

    pymupdf puts side-by-side lines on one baseline into one block, so lines of a block
    whose horizontal extents do not overlap are separate columns.
    """
    blocks: dict[int, list[Line]] = {}
    for line in lines:
        blocks.setdefault(line.block, []).append(line)
    groups: list[list[Line]] = []
    for block_lines in blocks.values():
        for column in _x_columns(block_lines):
            for line in sorted(column, key=lambda line: (line.bbox[1], line.bbox[0])):
                previous = groups[-1][-1] if groups and groups[-1][-1] in column else None
                if previous is not None and previous.monospaced == line.monospaced:
                    groups[-1].append(line)
                else:
                    groups.append([line])
    return groups


def _x_columns(lines: list[Line]) -> list[list[Line]]:
    columns: list[tuple[float, list[Line]]] = []
    for line in sorted(lines, key=lambda line: line.bbox[0]):
        if columns and line.bbox[0] < columns[-1][0]:
            right, members = columns[-1]
            columns[-1] = (max(right, line.bbox[2]), members + [line])
        else:
            columns.append((line.bbox[2], [line]))
    return [members for _, members in columns]


def _rows(lines: list[Line]) -> list[list[Line]]:
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda item: (item.y_mid, item.bbox[0])):
        if rows and abs(rows[-1][0].y_mid - line.y_mid) <= _SAME_ROW_POINTS:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [sorted(row, key=lambda item: item.bbox[0]) for row in rows]


def _code_text(lines: list[Line]) -> str:
    """Lay out a monospaced block as lines, turning horizontal offsets back into spaces."""
    char_width = statistics.median((line.bbox[2] - line.bbox[0]) / max(len(line.text), 1) for line in lines) or 1.0
    left = min(line.bbox[0] for line in lines)
    output = []
    for row in _rows(lines):
        text = ""
        for line in row:
            column = round((line.bbox[0] - left) / char_width)
            if text and column <= len(text):
                column = len(text) + 1
            text = text.ljust(column) + line.text
        output.append(text.rstrip())
    return "\n".join(output)


def _prose_text(lines: list[Line], result: PageText) -> str:
    """Join a block's rows into one paragraph, rejoining hyphenated words."""
    paragraph = ""
    for row in _rows(lines):
        row_text = " ".join(_line_markdown(line, result).strip() for line in row)
        if not paragraph:
            paragraph = row_text
        elif _HYPHENATED_END_RE.search(paragraph) and row_text[:1].islower():
            paragraph = paragraph[:-1] + row_text
        else:
            paragraph = f"{paragraph} {row_text}"
    return paragraph


def _line_markdown(line: Line, result: PageText) -> str:
    """Write a prose line with inline math as ``$…$`` and inline monospaced runs as backticks."""
    if _plain_prose(line.spans):
        return line.text
    kinds = _span_kinds(line.spans)
    pieces: list[str] = []
    spans_so_far: list[Span] = []
    for index, span in enumerate(line.spans):
        kind = kinds[index]
        run_end = index + 1 == len(line.spans) or kinds[index + 1] != kind
        spans_so_far.append(span)
        if not run_end:
            continue
        pieces.append(_run_markdown(spans_so_far, kind, result))
        spans_so_far = []
    return _join_pieces(pieces)


def _join_pieces(pieces: list[str]) -> str:
    # Text runs keep their own spaces, so a space is added only beside a formula or code run.
    text = ""
    for piece in pieces:
        if text and not text.endswith(" ") and not piece.startswith(" ") and (piece.startswith(("$", "`")) or text.endswith(("$", "`"))):
            text += " "
        text += piece
    return text


def _run_markdown(spans: list[Span], kind: str, result: PageText) -> str:
    if kind == "math" and not any(span.looks_like_math() for span in spans):
        # Raised digits alone are footnote marks, not formulas.
        kind = "text"
    if kind == "math":
        try:
            # NOTE: inline formulas get no drawn rules, so an inline radical keeps its
            # argument outside braces and an inline fraction is not rebuilt.
            latex = formula_latex(spans, [])
        except FormulaLayoutError:
            result.formulas_kept_as_text += 1
            return join_spans(spans)
        result.formulas_rebuilt += 1
        return f"${latex}$"
    text = join_spans(spans)
    if kind == "code":
        return f"`{text.strip()}`"
    return text


def _plain_prose(spans: list[Span]) -> bool:
    """Tell whether _span_kinds would label every span "text": no code, no math and no script size."""
    if any(span.monospaced or span.looks_like_math() for span in spans):
        return False
    return min(span.size for span in spans) >= _SCRIPT_SIZE_RATIO * max(span.size for span in spans)


def _span_kinds(spans: list[Span]) -> list[str]:
    """Label each span of a prose line "math", "code" or "text"."""
    sizes: Counter[float] = Counter()
    for span in spans:
        sizes[round(span.size, 1)] += len(span.text)
    text_size = sizes.most_common(1)[0][0]
    kinds = []
    for index, span in enumerate(spans):
        script = span.size < _SCRIPT_SIZE_RATIO * text_size and not span.has_prose_word()
        if span.monospaced and not all(other.monospaced for other in spans):
            kinds.append("code")
        elif script or (span.looks_like_math() and not _in_italic_prose(spans, index)):
            kinds.append("math")
        else:
            kinds.append("text")
    return _absorb_script_bases(spans, kinds)


def _in_italic_prose(spans: list[Span], index: int) -> bool:
    """Tell whether a one-letter italic span sits among italic words (a title), not in a formula."""
    span = spans[index]
    if span.math_font or any(char.isalpha() and not char.isascii() for char in span.text):
        return False
    neighbours = [spans[i] for i in (index - 1, index + 1) if 0 <= i < len(spans)]
    return any(other.italic and other.has_prose_word() for other in neighbours)


def _absorb_script_bases(spans: list[Span], kinds: list[str]) -> list[str]:
    """Extend math runs over the short text spans inside a formula.

    Brackets, digits and operators set in a text font ("(", "= 1") next to math belong to
    it, and so does a short span that math precedes and a script follows ("R/Ann" + "R").
    """
    changed = True
    while changed:
        changed = False
        for index, span in enumerate(spans):
            stripped = span.text.strip()
            if kinds[index] != "text" or not stripped or any(char.isalpha() for char in stripped):
                continue
            neighbours = [kinds[i] for i in (index - 1, index + 1) if 0 <= i < len(spans)]
            # Sentence punctuation joins a formula only from inside it, between two math spans.
            needed = 2 if stripped in ".,;:" else 1
            if neighbours.count("math") >= needed:
                kinds[index] = "math"
                changed = True
    for index in range(1, len(spans) - 1):
        if kinds[index] == "text" and kinds[index - 1] == "math" and kinds[index + 1] == "math":
            if len(spans[index].text.strip()) <= 4 and spans[index + 1].size < 0.88 * spans[index].size:
                kinds[index] = "math"
    return kinds


def _join_blocks(blocks: list[str]) -> str:
    joined: list[str] = []
    for block in blocks:
        if joined and _HYPHENATED_END_RE.search(joined[-1]) and block[:1].islower():
            # A word split by a hyphen across two blocks, as at a column break.
            joined[-1] = joined[-1][:-1] + block
        elif joined and len(joined[-1]) == 1 and joined[-1].isupper() and block[:1].islower():
            # A drop cap: the large first letter of a paragraph is a block of its own.
            joined[-1] += block
        else:
            joined.append(block)
    return "\n\n".join(joined)
