"""Born-digital PDF to text with pymupdf: reading order, paragraphs, code listings kept as lines."""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass

import pymupdf

from mimo_data.extract.errors import ExtractionError


# Span flag bit that pymupdf sets for monospaced fonts (pymupdf.TEXT_FONT_MONOSPACED).
_MONOSPACED_FLAG = 8
_MONOSPACED_FONT_RE = re.compile(r"mono|courier|consol|menlo|inconsolata", re.IGNORECASE)
# Text lines whose vertical centres are this close (in points) share a row: pymupdf
# splits a row into several lines where the gap between words is wide, as in code.
_SAME_ROW_POINTS = 2.0
# How far (in points) a column block may cross the page centre, for ragged gutters.
_COLUMN_SLACK_POINTS = 10.0
# A hyphen after a letter at a line end, with a lower-case letter opening the next
# line, splits a word ("volup-" + "tua"). Any other hyphen is kept.
_HYPHENATED_END_RE = re.compile(r"(?<=[^\W\d_])-$")


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


@dataclass
class PdfExtraction:
    """Result of ``extract_pdf``: the text (paragraphs split by blank lines) and the page count."""

    text: str
    page_count: int


@dataclass
class _Line:
    x0: float
    y_mid: float
    text: str
    monospaced: bool
    char_width: float


def extract_pdf(content: bytes, *, path: str | None = None) -> PdfExtraction:
    """Extract the text of a PDF page by page in reading order.

    Prose lines are joined into paragraphs and words split by end-of-line hyphens
    are rejoined. Blocks set in a monospaced font keep their lines and get their
    indentation back from the horizontal position of each line. Pages are joined
    by blank lines.

    Raises ExtractionError, naming ``path`` and pymupdf's message, for an empty,
    broken or password-protected PDF or a page whose text cannot be read.
    """
    document = _open(content, path)
    try:
        page_texts = []
        for page_number in range(document.page_count):
            try:
                page_dict = document[page_number].get_text("dict", sort=True)
            except (RuntimeError, ValueError) as error:
                raise ExtractionError(
                    f"failed to read the text of page {page_number + 1} of PDF {path!r}: {error}"
                ) from error
            page_text = _page_text(page_dict)
            if page_text:
                page_texts.append(page_text)
        return PdfExtraction(text="\n\n".join(page_texts), page_count=document.page_count)
    finally:
        document.close()


def _open(content: bytes, path: str | None) -> pymupdf.Document:
    if not content:
        raise ExtractionError(f"empty PDF {path!r}: expected PDF bytes, found none")
    try:
        document = pymupdf.open(stream=bytes(content), filetype="pdf")
    except (RuntimeError, ValueError) as error:  # pymupdf.FileDataError is a RuntimeError
        raise ExtractionError(f"failed to open PDF {path!r}: {error}; expected a complete, valid PDF file") from error
    if document.needs_pass:
        document.close()
        raise ExtractionError(f"PDF {path!r} is encrypted with a password: decrypt it before extraction")
    return document


def _page_text(page_dict: dict) -> str:
    paragraphs: list[str] = []
    text_blocks = [block for block in page_dict.get("blocks", []) if block.get("type") == 0]  # 1 is an image
    for block in _column_order(text_blocks, page_width=page_dict.get("width", 0.0)):
        lines = _block_lines(block)
        if not lines:
            continue
        if all(line.monospaced for line in lines):
            paragraph = _code_text(lines)
        else:
            paragraph = _prose_text(lines)
        if not paragraph.strip():
            continue
        if paragraphs and _HYPHENATED_END_RE.search(paragraphs[-1]) and paragraph[:1].islower():
            # A word split by a hyphen across two blocks, as at a column break.
            paragraphs[-1] = paragraphs[-1][:-1] + paragraph
        else:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def _column_order(blocks: list[dict], *, page_width: float) -> list[dict]:
    """Order blocks for two-column pages: left column, then right, between full-width blocks.

    pymupdf's ``sort=True`` orders blocks by their top edge, which interleaves the
    lines of two columns. A block narrower than half the page and entirely on one
    side of the centre belongs to that column. A full-width block (title, figure
    caption across both columns) ends the column section above it.
    """
    if page_width <= 0:
        return blocks
    centre = page_width / 2
    ordered: list[dict] = []
    left: list[dict] = []
    right: list[dict] = []
    for block in blocks:
        x0, _, x1, _ = block["bbox"]
        if x1 <= centre + _COLUMN_SLACK_POINTS and x1 - x0 < centre:
            left.append(block)
        elif x0 >= centre - _COLUMN_SLACK_POINTS and x1 - x0 < centre:
            right.append(block)
        else:
            ordered.extend(left + right)
            left, right = [], []
            ordered.append(block)
    ordered.extend(left + right)
    return ordered


def _block_lines(block: dict) -> list[_Line]:
    lines = []
    for line in block.get("lines", []):
        spans = [span for span in line.get("spans", []) if span.get("text")]
        text = "".join(span["text"] for span in spans)
        if not text.strip():
            continue
        monospaced = all(
            span.get("flags", 0) & _MONOSPACED_FLAG or _MONOSPACED_FONT_RE.search(span.get("font", ""))
            for span in spans
        )
        x0, y0, x1, y1 = line["bbox"]
        char_width = (x1 - x0) / max(len(text), 1)
        lines.append(_Line(x0=x0, y_mid=(y0 + y1) / 2, text=text, monospaced=bool(monospaced), char_width=char_width))
    return lines


def _rows(lines: list[_Line]) -> list[list[_Line]]:
    """Group lines into visual rows, top to bottom, each row left to right."""
    rows: list[list[_Line]] = []
    for line in sorted(lines, key=lambda item: (item.y_mid, item.x0)):
        if rows and abs(rows[-1][0].y_mid - line.y_mid) <= _SAME_ROW_POINTS:
            rows[-1].append(line)
        else:
            rows.append([line])
    for row in rows:
        row.sort(key=lambda item: item.x0)
    return rows


def _code_text(lines: list[_Line]) -> str:
    """Lay out a monospaced block as lines, turning horizontal offsets back into spaces."""
    char_width = statistics.median(line.char_width for line in lines) or 1.0
    left = min(line.x0 for line in lines)
    output = []
    for row in _rows(lines):
        text = ""
        for line in row:
            column = round((line.x0 - left) / char_width)
            if text and column <= len(text):
                column = len(text) + 1
            text = text.ljust(column) + line.text
        output.append(text.rstrip())
    return "\n".join(output)


def _prose_text(lines: list[_Line]) -> str:
    """Join a block's rows into one paragraph, rejoining hyphenated words."""
    paragraph = ""
    for row in _rows(lines):
        row_text = " ".join(line.text.strip() for line in row)
        if not paragraph:
            paragraph = row_text
        elif _HYPHENATED_END_RE.search(paragraph) and row_text[:1].islower():
            paragraph = paragraph[:-1] + row_text
        else:
            paragraph = f"{paragraph} {row_text}"
    return _compose_accents(paragraph)


def _compose_accents(text: str) -> str:
    if not _SPACING_ACCENT_RE.search(text):
        return text
    combined = _SPACING_ACCENT_RE.sub(lambda match: match.group(2) + _SPACING_ACCENTS[match.group(1)], text)
    return unicodedata.normalize("NFC", combined)
