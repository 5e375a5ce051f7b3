"""Born-digital PDF to Markdown with pymupdf, for STEM papers and code manuals.

Pages are read in column order without running heads, page numbers and line numbers.
Monospaced blocks become fenced code, formulas are rebuilt as LaTeX from glyph geometry
(``$…$`` inline, ``$$…$$`` display), and aligned cells become Markdown tables. pymupdf
never runs PDF JavaScript, and this module never reads embedded files or attachments.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pymupdf

from mimo_data.extract.errors import ExtractionError
from mimo_data.extract.pdf.layout import running_heads
from mimo_data.extract.pdf.page import page_markdown
from mimo_data.extract.pdf.spans import Line, has_glued_words, page_lines, respace_glued_words

logger = logging.getLogger(__name__)

# Default limits per document. A 2,000-page PDF is a book scan or a dump, not a paper or a
# manual. A 46-page paper takes about 1 s on one core, so 120 s only stops pathological files.
MAX_PAGES = 2000
TIMEOUT_SECONDS = 120.0
# The flags of plain ``get_text()``. pymupdf's default flags for "dict" add image blocks
# with their pixels, which made reading the dictionary four times slower on the PDFs of
# benchmarks/pdf.py.
# Vector blocks (TEXT_COLLECT_VECTORS) are not read here because they split text blocks
# at every drawn line, which breaks up ruled tables, and page.py reads rules on its own.
_TEXT_FLAGS = pymupdf.TEXTFLAGS_TEXT


@dataclass
class PdfExtraction:
    """Result of ``extract_pdf``: the Markdown, the page count and the formula counts."""

    text: str
    page_count: int
    formulas_rebuilt: int = 0
    formulas_kept_as_text: int = 0


def extract_pdf(
    content: bytes,
    *,
    path: str | None = None,
    max_pages: int = MAX_PAGES,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> PdfExtraction:
    """Extract a PDF as Markdown, page by page in reading order, pages joined by blank lines.

    Raises ExtractionError with ``reason`` set to "pdf_empty", "pdf_damaged",
    "pdf_encrypted", "pdf_too_many_pages", "pdf_timeout" (checked between pages) or
    "pdf_no_text_layer" (pages without any text, as in scans).
    """
    started = time.monotonic()
    document = _open(content, path)
    try:
        with _gc_paused():
            if document.page_count > max_pages:
                raise ExtractionError(
                    f"PDF {path!r} has {document.page_count} pages, more than the limit of {max_pages}",
                    reason="pdf_too_many_pages",
                )
            pages = _read_pages(document, path, started, timeout_seconds)
            if not any(page.has_text_layer for page in pages):
                raise ExtractionError(
                    f"PDF {path!r} has no text layer (image-only pages): it needs OCR, which this extractor does not do",
                    reason="pdf_no_text_layer",
                )
            return _markdown(document, pages, path, started, timeout_seconds)
    finally:
        document.close()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, restoring its previous state on exit.

    Extraction allocates hundreds of thousands of small objects (span dictionaries, spans,
    lines) and frees them by reference counting, so collector passes find nothing to free.
    They took 15 to 20 % of the extraction time on the PDFs of benchmarks/pdf.py.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _open(content: bytes, path: str | None) -> pymupdf.Document:
    if not content:
        raise ExtractionError(f"empty PDF {path!r}: expected PDF bytes, found none", reason="pdf_empty")
    try:
        document = pymupdf.open(stream=bytes(content), filetype="pdf")
    except (RuntimeError, ValueError) as error:  # pymupdf.FileDataError is a RuntimeError
        raise ExtractionError(
            f"failed to open PDF {path!r}: {error}; expected a complete, valid PDF file", reason="pdf_damaged"
        ) from error
    if document.needs_pass:
        document.close()
        raise ExtractionError(f"PDF {path!r} is encrypted with a password: decrypt it before extraction", reason="pdf_encrypted")
    return document


def _check_time(path: str | None, started: float, timeout_seconds: float) -> None:
    elapsed = time.monotonic() - started
    if elapsed > timeout_seconds:
        raise ExtractionError(
            f"extraction of PDF {path!r} timed out after {elapsed:.1f} s (limit {timeout_seconds} s)", reason="pdf_timeout"
        )


@dataclass
class _PageLines:
    """The text lines of one page, its height in points and whether it has any text block."""

    lines: list[Line]
    height: float
    has_text_layer: bool


def _read_pages(document: pymupdf.Document, path: str | None, started: float, timeout_seconds: float) -> list[_PageLines]:
    pages = []
    for page_number in range(document.page_count):
        _check_time(path, started, timeout_seconds)
        try:
            page_dict = _read_page(document[page_number])
        except (RuntimeError, ValueError) as error:
            raise ExtractionError(
                f"failed to read the text of page {page_number + 1} of PDF {path!r}: {error}", reason="pdf_damaged"
            ) from error
        # Only the lines are kept, so that a page's dictionary is freed once it is read.
        has_text_layer = any(block.get("type") == 0 for block in page_dict.get("blocks", []))
        pages.append(_PageLines(page_lines(page_dict), page_dict.get("height", 0.0), has_text_layer))
    return pages


def _read_page(page: pymupdf.Page) -> dict:
    """Read a page's text dictionary, re-reading it glyph by glyph when words seem glued together."""
    textpage = page.get_textpage(flags=_TEXT_FLAGS)
    page_dict = page.get_text("dict", textpage=textpage, sort=True)
    if has_glued_words(page_dict):
        # The glyph boxes come from the same text page, so blocks and lines stay the same.
        page_dict = respace_glued_words(page.get_text("rawdict", textpage=textpage, sort=True))
    return page_dict


def _markdown(
    document: pymupdf.Document, pages: list[_PageLines], path: str | None, started: float, timeout_seconds: float
) -> PdfExtraction:
    repeated = running_heads([page.lines for page in pages], [page.height for page in pages])
    extraction = PdfExtraction(text="", page_count=document.page_count)
    page_texts = []
    for page_number, page_read in enumerate(pages):
        _check_time(path, started, timeout_seconds)
        page = page_markdown(document[page_number], page_read.lines, repeated)
        extraction.formulas_rebuilt += page.formulas_rebuilt
        extraction.formulas_kept_as_text += page.formulas_kept_as_text
        if page.markdown:
            page_texts.append(page.markdown)
    extraction.text = "\n\n".join(page_texts)
    return extraction
