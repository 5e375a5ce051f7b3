"""Read whole-file documents: one HTML page or one PDF per file.

Rows carry the raw bytes in ``content``; decoding the charset of a page or the
text of a PDF is the extract step's work. Drop reasons set here:
``file_unreadable``, ``file_empty``, ``html_gzip_corrupt`` and ``pdf_header_missing``.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Iterator

from mimo_data.io.common import document_row, drop_row

# The "%PDF-" header belongs at byte 0, but some producers write bytes before it,
# so a header anywhere in the first 1024 bytes is accepted.
PDF_MAGIC = b"%PDF-"
PDF_HEADER_WINDOW_BYTES = 1024


def read_html(path: str, *, source: str, domain: str | None) -> Iterator[dict]:
    """Yield the single row of an HTML file; a ``.gz`` name is gunzipped first."""
    fields = dict(source=source, fmt="html", locator=path, domain=domain)
    content = _read_bytes(path, fields)
    if isinstance(content, dict):
        yield content
        return

    if path.lower().endswith(".gz"):
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as error:
            yield drop_row(reason="html_gzip_corrupt", detail=str(error), **fields)
            return

    if not content.strip():
        yield drop_row(reason="file_empty", **fields)
        return
    yield document_row(content=content, **fields)


def read_pdf(path: str, *, source: str, domain: str | None) -> Iterator[dict]:
    """Yield the single row of a PDF file."""
    fields = dict(source=source, fmt="pdf", locator=path, domain=domain)
    content = _read_bytes(path, fields)
    if isinstance(content, dict):
        yield content
        return

    if not content:
        yield drop_row(reason="file_empty", **fields)
        return
    if PDF_MAGIC not in content[:PDF_HEADER_WINDOW_BYTES]:
        detail = f"no {PDF_MAGIC!r} in the first {PDF_HEADER_WINDOW_BYTES} bytes"
        yield drop_row(reason="pdf_header_missing", detail=detail, **fields)
        return
    yield document_row(content=content, content_type="application/pdf", **fields)


def _read_bytes(path: str, fields: dict) -> bytes | dict:
    """Return the file's bytes, or a ``file_unreadable`` drop row."""
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as error:
        return drop_row(reason="file_unreadable", detail=str(error), **fields)
