"""Read HTML documents out of WARC and ARC files with warcio.

A document is a ``response`` record with an HTML HTTP Content-Type, or a
``resource`` record whose WARC Content-Type is HTML. Every other record still
becomes a row, marked dropped, so the read step accounts for every record:

- ``warc_non_document_record``: warcinfo, request, metadata, revisit and other
  record types that carry no page of their own;
- ``warc_not_html``: a response or resource whose payload is not HTML;
- ``warc_http_status_not_ok``: a response whose HTTP status is not 2xx;
- ``warc_http_headers_missing``: a response whose HTTP headers could not be parsed;
- ``warc_empty_payload``: an HTML record with no payload bytes;
- ``warc_record_unreadable``: reading or decoding the payload failed;
- ``warc_truncated``: the file ends before the record's Content-Length, or,
  with an ``#unread_from=N`` locator, inside a record header or gzip member
  that warcio skips without an error;
- ``warc_rest_unreadable``: the archive iterator failed, so the file from that
  offset on is one dropped row (``#unread_from=N``) and reading stops;
- ``file_unreadable``: the file could not be opened; ``file_empty``: it has no bytes.
"""

from __future__ import annotations

import os
import zlib
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataException
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord, ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from mimo_data.io.common import document_row, drop_row

HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DOCUMENT_RECORD_TYPES = frozenset({"response", "resource"})

# Errors that warcio 1.8.1 raises for malformed archives. OSError covers
# gzip.BadGzipFile and a failing disk read. EOFError and ValueError are caught
# defensively for early ends and malformed numbers in headers.
ARCHIVE_ERRORS = (
    ArchiveLoadFailed,
    StatusAndHeadersParserException,
    ChunkedDataException,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
)

# Padding bytes tolerated after the last record; longer tails are unread data.
TAIL_PADDING_BYTES = 64

# Bytes inspected when a response carries no Content-Type at all.
SNIFF_BYTES = 512


def read_warc(path: str, *, source: str, domain: str | None) -> Iterator[dict]:
    """Yield one row per record of a WARC or ARC file, gzipped or not."""
    try:
        stream = open(path, "rb")
    except OSError as error:
        yield drop_row(source=source, fmt="warc", locator=path, domain=domain,
                       reason="file_unreadable", detail=str(error))
        return

    with stream:
        if not stream.read(1):
            yield drop_row(source=source, fmt="warc", locator=path, domain=domain, reason="file_empty")
            return
        stream.seek(0)
        yield from _archive_rows(stream, path, source, domain)


def _archive_rows(stream: BinaryIO, path: str, source: str, domain: str | None) -> Iterator[dict]:
    """Yield the rows of the records from the stream's position to the end of the file.

    The stream may be positioned at any record start: warcio then reports the
    offsets of the records from that position, which are still file offsets.
    """
    iterator = ArchiveIterator(stream, arc2warc=True)
    end_offset = stream.tell()  # where the last record read so far ends
    try:
        for record in iterator:
            # Read the payload before asking for the offset, because warcio's
            # get_record_offset() consumes the rest of the record.
            payload, read_reason, read_detail = _read_payload(record)
            offset = iterator.get_record_offset()
            # warcio 1.8.1 reports a negative length for a gzip member that spans
            # several records; the record's own offset is then the best bound.
            end_offset = max(offset + iterator.get_record_length(), offset)
            locator = f"{path}#offset={offset}"
            yield _record_row(record, payload, (read_reason, read_detail), locator, source, domain)
    except ARCHIVE_ERRORS as error:
        # The iterator cannot resynchronise after a broken member, so the rest
        # of the file counts as one dropped row.
        yield _rest_row(path, end_offset, source, domain, "warc_rest_unreadable", _first_line(error))
        return

    # warcio stops without an error when the file ends inside a record header
    # or inside a gzip member, so compare where reading stopped with the size.
    unread = _unread_tail(stream, end_offset)
    if unread:
        yield _rest_row(path, end_offset, source, domain, "warc_truncated",
                        f"{unread} bytes after the last complete record")


def _rest_row(path: str, offset: int, source: str, domain: str | None, reason: str, detail: str) -> dict:
    # "unread_from" rather than "offset": no record starts there that warcio
    # could parse, and the key keeps the id apart from a record's id.
    locator = f"{path}#unread_from={offset}"
    return drop_row(source=source, fmt="warc", locator=locator, domain=domain,
                    reason=reason, detail=detail)


def _unread_tail(stream: BinaryIO, end_offset: int) -> int:
    """Return how many bytes after ``end_offset`` hold more than padding."""
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    if size <= end_offset:
        return 0
    stream.seek(end_offset)
    # Uncompressed WARC files end with the CRLF CRLF that closes the last record,
    # which warcio leaves out of the record length.
    tail = stream.read(TAIL_PADDING_BYTES + 1)
    if len(tail) <= TAIL_PADDING_BYTES and not tail.strip(b"\r\n\x00 "):
        return 0
    return size - end_offset


def _record_row(
    record: ArcWarcRecord, payload: bytes, read_failure: tuple[str | None, str],
    locator: str, source: str, domain: str | None,
) -> dict:
    url = record.rec_headers.get_header("WARC-Target-URI")
    content_type = _payload_content_type(record)
    fields = dict(source=source, fmt="warc", locator=locator, domain=domain, url=url,
                  content_type=content_type)

    # Anything but an HTML page is a counted drop; expected skips log at DEBUG.
    reason, detail = _skip_reason(record, content_type, payload, read_failure)
    if reason is not None:
        quiet = reason in ("warc_non_document_record", "warc_not_html")
        return drop_row(reason=reason, detail=detail, quiet=quiet, **fields)
    return document_row(content=payload, **fields)


def _read_payload(record: ArcWarcRecord) -> tuple[bytes, str | None, str]:
    """Return the decoded payload plus a drop reason and detail when reading failed."""
    try:
        payload = record.content_stream().read()
        block = record.raw_stream
        if isinstance(block, LimitReader):
            block.read()  # drain what content_stream() left, e.g. a chunked trailer
    except (ChunkedDataException, zlib.error, EOFError, OSError, ValueError) as error:
        return b"", "warc_record_unreadable", _first_line(error)

    # warcio 1.8.1 returns a short read without raising when the file ends inside
    # a record. The LimitReader around the block then still expects bytes.
    if isinstance(block, LimitReader) and block.limit > 0:
        return payload, "warc_truncated", f"record ends {block.limit} bytes before its Content-Length"
    return payload, None, ""


def _skip_reason(
    record: ArcWarcRecord, content_type: str | None, payload: bytes, read_failure: tuple[str | None, str]
) -> tuple[str | None, str]:
    if record.rec_type not in DOCUMENT_RECORD_TYPES:
        return "warc_non_document_record", f"WARC-Type {record.rec_type}"
    if record.rec_type == "response":
        status = _http_status(record)
        if status is None:
            return "warc_http_headers_missing", "no parsable HTTP status line"
        if not 200 <= status < 300:
            return "warc_http_status_not_ok", f"HTTP status {status}"
    if read_failure[0] is not None:
        return read_failure
    if not _is_html(content_type, payload):
        return "warc_not_html", f"Content-Type {content_type!r}"
    if not payload:
        return "warc_empty_payload", ""
    return None, ""


def _payload_content_type(record: ArcWarcRecord) -> str | None:
    """Return the HTTP Content-Type of a response, or the WARC one of a resource."""
    if record.rec_type == "response":
        if record.http_headers is None:
            return None
        return record.http_headers.get_header("Content-Type")
    return record.rec_headers.get_header("Content-Type")


def _http_status(record: ArcWarcRecord) -> int | None:
    headers = record.http_headers
    if headers is None or not headers.statusline:
        return None
    try:
        return int(headers.get_statuscode())
    except (TypeError, ValueError):
        return None


def _is_html(content_type: str | None, payload: bytes) -> bool:
    if content_type:
        media_type = content_type.split(";", 1)[0].strip().lower()
        return media_type in HTML_MEDIA_TYPES
    # No Content-Type at all: accept a payload that starts like an HTML page.
    head = payload[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return f"{type(error).__name__}: {first}"
