"""Born-digital PDF to Markdown with pymupdf, for STEM papers and code manuals.

Pages are read in column order without running heads, page numbers and line numbers.
Monospaced blocks become fenced code, formulas are rebuilt as LaTeX from glyph geometry
(``$…$`` inline, ``$$…$$`` display), and aligned cells become Markdown tables. pymupdf
never runs PDF JavaScript, and this module never reads embedded files or attachments.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pymupdf

from mimo_data.extract.errors import ExtractionError
from mimo_data.extract.pdf.layout import running_heads
from mimo_data.extract.pdf.page import page_markdown
from mimo_data.extract.pdf.spans import page_lines

logger = logging.getLogger(__name__)

# Default limits per document. A 2,000-page PDF is a book scan or a dump, not a paper or a
# manual. A 46-page paper takes about 1 s on one core, so 120 s only stops pathological files.
MAX_PAGES = 2000
TIMEOUT_SECONDS = 120.0


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
        if document.page_count > max_pages:
            raise ExtractionError(
                f"PDF {path!r} has {document.page_count} pages, more than the limit of {max_pages}",
                reason="pdf_too_many_pages",
            )
        page_dicts = _read_pages(document, path, started, timeout_seconds)
        if not any(block.get("type") == 0 for page_dict in page_dicts for block in page_dict.get("blocks", [])):
            raise ExtractionError(
                f"PDF {path!r} has no text layer (image-only pages): it needs OCR, which this extractor does not do",
                reason="pdf_no_text_layer",
            )
        return _markdown(document, page_dicts, path, started, timeout_seconds)
    finally:
        document.close()


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


def _read_pages(document: pymupdf.Document, path: str | None, started: float, timeout_seconds: float) -> list[dict]:
    page_dicts = []
    for page_number in range(document.page_count):
        _check_time(path, started, timeout_seconds)
        try:
            page_dicts.append(document[page_number].get_text("dict", sort=True))
        except (RuntimeError, ValueError) as error:
            raise ExtractionError(
                f"failed to read the text of page {page_number + 1} of PDF {path!r}: {error}", reason="pdf_damaged"
            ) from error
    return page_dicts


def _markdown(
    document: pymupdf.Document, page_dicts: list[dict], path: str | None, started: float, timeout_seconds: float
) -> PdfExtraction:
    pages_lines = [page_lines(page_dict) for page_dict in page_dicts]
    repeated = running_heads(pages_lines, [page_dict.get("height", 0.0) for page_dict in page_dicts])
    extraction = PdfExtraction(text="", page_count=document.page_count)
    page_texts = []
    for page_number, lines in enumerate(pages_lines):
        _check_time(path, started, timeout_seconds)
        page = page_markdown(document[page_number], lines, repeated)
        extraction.formulas_rebuilt += page.formulas_rebuilt
        extraction.formulas_kept_as_text += page.formulas_kept_as_text
        if page.markdown:
            page_texts.append(page.markdown)
    extraction.text = "\n\n".join(page_texts)
    return extraction
