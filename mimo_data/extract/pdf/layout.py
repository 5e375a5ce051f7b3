"""Page layout: running heads and margins, line numbers, formula regions and reading order."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from mimo_data.extract.pdf.spans import Line

# Share of the page height at the top and bottom where running heads, footers and page
# numbers sit. Body text of journal and arXiv pages starts at 6 % of the height or lower.
_MARGIN_SHARE = 0.055
# A margin line longer than this is body text that starts high on the page, not a running head.
_MAX_MARGIN_WORDS = 15
# Share of the page height scanned for running heads that repeat on other pages.
_RUNNING_HEAD_SHARE = 0.1
_DIGITS_RE = re.compile(r"\d+")
_LINE_NUMBER_RE = re.compile(r"^\d{1,4}$")
# Horizontal cuts at gaps taller than this many line heights separate boxes of a grid.
_WIDE_GAP_LINES = 1.8


@dataclass
class Item:
    """A unit of reading order: a paragraph block, a formula region or a table, with its box."""

    kind: str  # "text", "formula" or "table"
    lines: list[Line]
    bbox: tuple[float, float, float, float] = field(init=False)
    markdown: str = ""

    def __post_init__(self) -> None:
        self.bbox = (
            min(line.bbox[0] for line in self.lines),
            min(line.bbox[1] for line in self.lines),
            max(line.bbox[2] for line in self.lines),
            max(line.bbox[3] for line in self.lines),
        )


def running_heads(pages_lines: list[list[Line]], page_heights: list[float]) -> set[str]:
    """Return the digit-masked texts of margin lines that repeat on at least three pages or half of them."""
    counts: Counter[str] = Counter()
    for lines, height in zip(pages_lines, page_heights):
        seen = {
            _DIGITS_RE.sub("#", line.text.strip())
            for line in lines
            if line.bbox[3] < height * _RUNNING_HEAD_SHARE or line.bbox[1] > height * (1 - _RUNNING_HEAD_SHARE)
        }
        counts.update(seen)
    minimum = max(3, len(pages_lines) // 2) if len(pages_lines) > 2 else len(pages_lines) + 1
    return {text for text, count in counts.items() if count >= minimum}


def drop_page_furniture(lines: list[Line], height: float, repeated: set[str]) -> list[Line]:
    """Remove running heads, footers, page numbers and line-number columns from a page."""
    kept = []
    for line in lines:
        text = line.text.strip()
        in_margin = line.bbox[3] < height * _MARGIN_SHARE or line.bbox[1] > height * (1 - _MARGIN_SHARE)
        near_edge = line.bbox[3] < height * _RUNNING_HEAD_SHARE or line.bbox[1] > height * (1 - _RUNNING_HEAD_SHARE)
        if in_margin and len(text.split()) <= _MAX_MARGIN_WORDS:
            continue
        if near_edge and (_DIGITS_RE.sub("#", text) in repeated or _LINE_NUMBER_RE.match(text)):
            continue
        kept.append(line)
    return _drop_line_numbers(kept)


def _drop_line_numbers(lines: list[Line]) -> list[Line]:
    """Drop a column of bare numbers left of the text, as in review copies with numbered lines."""
    numbers = [line for line in lines if _LINE_NUMBER_RE.match(line.text.strip())]
    if len(numbers) < 5:
        return lines
    text_left = min((line.bbox[0] for line in lines if line not in numbers), default=0.0)
    margin_numbers = {id(line) for line in numbers if line.bbox[2] < text_left - 2}
    if len(margin_numbers) < 5:
        return lines
    return [line for line in lines if id(line) not in margin_numbers]


def formula_regions(lines: list[Line]) -> tuple[list[list[Line]], list[Line]]:
    """Group lines without prose words into formula regions; return the regions and the other lines.

    A candidate line has no word of three or more letters. Candidates that touch (closer
    than 1.2 em across or a third of an em down) join one region, and a region is a
    formula when at least one of its lines shows a math font, a math character or an
    italic letter. The rest (table numbers, page numbers) stay text.
    """
    candidates = [line for line in lines if not line.has_prose_word() and not line.monospaced]
    groups = _touching_groups(candidates)
    regions = [group for group in groups if any(span.looks_like_math() for line in group for span in line.spans)]
    in_region = {id(line) for region in regions for line in region}
    return regions, [line for line in lines if id(line) not in in_region]


def _touching_groups(lines: list[Line]) -> list[list[Line]]:
    parent = list(range(len(lines)))

    def find(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    # Sweep top to bottom. Two lines touch only when the lower one starts at most 0.35 em
    # below the upper one's bottom, so the inner loop stops at the first line below that.
    order = sorted(range(len(lines)), key=lambda index: lines[index].bbox[1])
    max_size = max((line.size for line in lines), default=0.0)
    for position, i in enumerate(order):
        first = lines[i]
        reach = first.bbox[3] + 0.35 * max_size
        for j in order[position + 1 :]:
            if lines[j].bbox[1] > reach:
                break
            if _touching(first, lines[j]):
                parent[find(i)] = find(j)
    groups: dict[int, list[Line]] = {}
    for index, line in enumerate(lines):
        groups.setdefault(find(index), []).append(line)
    return list(groups.values())


def _touching(first: Line, second: Line) -> bool:
    size = max(first.size, second.size)
    gap_x = max(first.bbox[0], second.bbox[0]) - min(first.bbox[2], second.bbox[2])
    gap_y = max(first.bbox[1], second.bbox[1]) - min(first.bbox[3], second.bbox[3])
    return (gap_x <= 1.2 * size and gap_y < 0) or (gap_y <= 0.35 * size and gap_x < 0.3 * size)


def reading_order(items: list[Item]) -> list[Item]:
    """Order items by recursive XY-cuts: wide horizontal gaps, then column gutters, then full-width items."""
    if len(items) <= 1:
        return items
    line_height = sorted(item.lines[0].size for item in items)[len(items) // 2] * 1.2

    for pieces in (
        _cut(items, axis=1, min_gap=_WIDE_GAP_LINES * line_height),
        _cut(items, axis=0, min_gap=0.5 * line_height),
        _split_at_full_width(items),
    ):
        if len(pieces) > 1:
            return [item for piece in pieces for item in reading_order(piece)]
    return sorted(items, key=lambda item: (item.bbox[1], item.bbox[0]))


def _cut(items: list[Item], *, axis: int, min_gap: float) -> list[list[Item]]:
    """Split items at every gap of at least ``min_gap`` in their projection on one axis (0 = x, 1 = y)."""
    ordered = sorted(items, key=lambda item: item.bbox[axis])
    pieces: list[list[Item]] = [[ordered[0]]]
    reach = ordered[0].bbox[axis + 2]
    for item in ordered[1:]:
        if item.bbox[axis] - reach >= min_gap:
            pieces.append([item])
        else:
            pieces[-1].append(item)
        reach = max(reach, item.bbox[axis + 2])
    return pieces


def _split_at_full_width(items: list[Item]) -> list[list[Item]]:
    """Split above and below items wider than 60 % of the region, so columns between them can be cut."""
    left = min(item.bbox[0] for item in items)
    right = max(item.bbox[2] for item in items)
    pieces: list[list[Item]] = [[]]
    for item in sorted(items, key=lambda item: item.bbox[1]):
        if item.bbox[2] - item.bbox[0] > 0.6 * (right - left):
            pieces.extend([[item], []])
        else:
            pieces[-1].append(item)
    return [piece for piece in pieces if piece]
