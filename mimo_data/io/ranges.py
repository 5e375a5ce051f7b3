"""Cut input files into record ranges and read one range without reading the records before it.

A range is a run of consecutive rows of ``read_file``: the row numbers ``start``
up to ``stop`` (None: the end of the file). Reading every range of a file in
order yields exactly the rows of ``read_file``, with the same ids and locators,
so a build that commits its work range by range gives the same documents as one
that reads whole files. How a range finds its first record, per format:

- ``html``, ``pdf``: one document per file, so one range per file;
- ``jsonl``: the byte offset of the range's first line (plain files), or the
  number of lines to skip (gzipped files, which cannot seek);
- ``parquet``: the row groups, from the file's metadata;
- ``warc``: the byte offset of the range's first record, found by a scan that
  reads the archive once with the real reader.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import zlib
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from mimo_data.io import records, warc
from mimo_data.io.readers import read_file

logger = logging.getLogger(__name__)

# The locator key of a WARC record row: "<path>#offset=<byte offset>".
WARC_OFFSET_KEY = "#offset="


@dataclass(frozen=True)
class RecordRange:
    """Rows ``start`` up to ``stop`` of one input file, and where the first of them begins."""

    start: int  # number of the first row, counted from 0 in read_file order
    stop: int | None  # number of the row after the last one; None reads to the end of the file
    offset: int = 0  # byte offset of the first record (WARC) or line (plain JSONL)
    lines_before: int = 0  # JSONL only: lines of the file before the range, blank ones included


def scan_ranges(fmt: str, path: str, rows_per_range: int, *, text_column: str = "text") -> list[RecordRange]:
    """Cut ``path`` into ranges of about ``rows_per_range`` rows each.

    A WARC range may hold a few more rows, because a range starts only where a new
    record starts at a new byte offset. A file that cannot be read is one range, so
    the reader reports why.
    """
    if rows_per_range < 1:
        raise ValueError(f"rows_per_range must be at least 1, found {rows_per_range}")
    if fmt == "jsonl":
        starts = _jsonl_starts(path, rows_per_range)
    elif fmt == "parquet":
        starts = _parquet_starts(path, rows_per_range)
    elif fmt == "warc":
        starts = _warc_starts(path, rows_per_range)
    else:
        starts = []
    starts = [RecordRange(start=0, stop=None)] + starts
    return [
        RecordRange(start=first.start, stop=following.start if following else None,
                    offset=first.offset, lines_before=first.lines_before)
        for first, following in itertools.zip_longest(starts, starts[1:])
    ]


def read_range(
    fmt: str,
    path: str,
    record_range: RecordRange,
    *,
    source: str,
    domain: str | None = None,
    text_column: str = "text",
    url_column: str | None = "url",
) -> Iterator[dict]:
    """Yield the rows of ``record_range`` of ``path``, as ``read_file`` yields them."""
    fields = dict(source=source, domain=domain)
    if record_range.start == 0 and record_range.stop is None:
        return read_file(fmt, path, text_column=text_column, url_column=url_column, **fields)
    if fmt == "jsonl":
        return _jsonl_range(path, record_range, text_column=text_column, url_column=url_column, **fields)
    if fmt == "parquet":
        return records.read_parquet(path, text_column=text_column, url_column=url_column,
                                    start=record_range.start, stop=record_range.stop, **fields)
    if fmt == "warc":
        return _warc_range(path, record_range, **fields)
    raise ValueError(f"{fmt} files are read whole, found the range {record_range} of {path}")


def _limited(rows: Iterator[dict], record_range: RecordRange) -> Iterator[dict]:
    if record_range.stop is None:
        return rows
    return itertools.islice(rows, record_range.stop - record_range.start)


def _jsonl_starts(path: str, rows_per_range: int) -> list[RecordRange]:
    """Return where every range after the first begins: one per ``rows_per_range`` non-blank lines."""
    gzipped = path.lower().endswith(".gz")
    starts = []
    rows = 0
    offset = 0
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as stream:
            for lines_before, line in enumerate(stream):
                if line.strip():
                    if rows and rows % rows_per_range == 0:
                        starts.append(RecordRange(start=rows, stop=None, offset=0 if gzipped else offset,
                                                  lines_before=lines_before))
                    rows += 1
                offset += len(line)
    except (OSError, EOFError, zlib.error) as error:
        # The reader reports the broken rest as one row; it falls in the last range.
        logger.info("scan of %s stopped after %d records: %s", path, rows, error)
    return starts


def _jsonl_range(path: str, record_range: RecordRange, *, source: str, domain: str | None,
                 text_column: str, url_column: str | None) -> Iterator[dict]:
    gzipped = path.lower().endswith(".gz")
    with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as stream:
        if gzipped:
            # NOTE: a gzip stream cannot seek, so the lines before the range are decompressed and skipped.
            for _ in range(record_range.lines_before):
                stream.readline()
        else:
            stream.seek(record_range.offset)
        rows = records._jsonl_rows(stream, path, source, domain, text_column, url_column,
                                   first_line=record_range.lines_before + 1)
        yield from _limited(rows, record_range)


def _parquet_starts(path: str, rows_per_range: int) -> list[RecordRange]:
    try:
        with pq.ParquetFile(path) as parquet_file:
            rows = parquet_file.metadata.num_rows
    except (OSError, pa.ArrowException):
        return []  # read_file turns the unreadable file into one dropped row
    return [RecordRange(start=start, stop=None) for start in range(rows_per_range, rows, rows_per_range)]


def _warc_starts(path: str, rows_per_range: int) -> list[RecordRange]:
    """Return the WARC ranges after the first, each starting at a record with a new byte offset.

    The scan reads the archive with ``read_file`` itself, so its rows are exactly the
    rows the ranges will yield.
    """
    starts = []
    previous_offset = -1
    rows_in_range = 0
    for row_number, row in enumerate(read_file("warc", path, source="", domain=None)):
        offset = _record_offset(row["path"])
        if rows_in_range >= rows_per_range and offset is not None and offset > previous_offset:
            starts.append(RecordRange(start=row_number, stop=None, offset=offset))
            rows_in_range = 0
        rows_in_range += 1
        if offset is not None:
            previous_offset = offset
    return starts


def _record_offset(locator: str) -> int | None:
    _, key, offset = locator.rpartition(WARC_OFFSET_KEY)
    return int(offset) if key and offset.isdigit() else None


def _warc_range(path: str, record_range: RecordRange, *, source: str, domain: str | None) -> Iterator[dict]:
    with open(path, "rb") as stream:
        stream.seek(record_range.offset)
        rows = warc._archive_rows(stream, path, source, domain)
        first = next(rows, None)
        if first is not None and _record_offset(first["path"]) == record_range.offset:
            yield from _limited(itertools.chain([first], rows), record_range)
            return

    # A gzip member that contains several records cannot be entered in the middle, so
    # this range is read from the start of the file instead. The scan avoids such
    # offsets, so this path is a safeguard.
    logger.warning("no WARC record starts at byte %d of %s; reading the file from its start", record_range.offset, path)
    rows = warc.read_warc(path, source=source, domain=domain)
    yield from itertools.islice(rows, record_range.start, record_range.stop)
