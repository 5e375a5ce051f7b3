"""Read text records: one document per JSONL line or per Parquet row.

Rows carry the record's text in ``text`` and no ``content``. Drop reasons set
for JSONL: ``jsonl_invalid_utf8``, ``jsonl_invalid_json``, ``jsonl_not_object``,
``jsonl_missing_text``, ``jsonl_text_not_string``, ``jsonl_truncated`` (a gzip
stream that ends early: one row for the rest of the file), ``file_unreadable``.
For Parquet: ``parquet_missing_text``, ``parquet_rest_unreadable`` (decoding failed
part way: one row for the rest of the file) and ``file_unreadable``.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import IO, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from mimo_data.io.common import InputError, document_row, drop_row

_MISSING = object()
TEXT_JOINER = "\n\n"  # between the values of a "question+response" text_column
PARQUET_BATCH_ROWS = 1024  # rows decoded at a time, to bound memory on large row groups


def read_jsonl(
    path: str, *, source: str, domain: str | None, text_column: str, url_column: str | None
) -> Iterator[dict]:
    """Yield one row per non-blank line of a JSONL (or ``.jsonl.gz``) file.

    ``text_column`` is a field name or a dotted path into nested objects and
    lists, such as ``model_prediction.proof`` or ``code.0``. Several paths
    joined by ``+``, such as ``question+code.0``, give one text with the values
    separated by a blank line. A key that itself contains dots or ``+`` is
    matched whole before the name is split.
    """
    try:
        stream = gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")
    except OSError as error:
        yield drop_row(source=source, fmt="jsonl", locator=path, domain=domain,
                       reason="file_unreadable", detail=str(error))
        return

    with stream:
        yield from _jsonl_rows(stream, path, source, domain, text_column, url_column)


def _jsonl_rows(
    stream: IO[bytes], path: str, source: str, domain: str | None,
    text_column: str, url_column: str | None, first_line: int = 1,
) -> Iterator[dict]:
    """Yield the rows of the lines from the stream's position on; that line is ``first_line``."""
    line_number = first_line - 1
    try:
        for line_number, raw_line in enumerate(stream, start=first_line):
            if not raw_line.strip():
                continue  # a blank line is no document, so it gets no row
            yield _jsonl_row(raw_line, f"{path}#line={line_number}", source, domain,
                             text_column, url_column)
    except (OSError, EOFError, zlib.error) as error:
        locator = f"{path}#line={line_number + 1}"
        yield drop_row(source=source, fmt="jsonl", locator=locator, domain=domain,
                       reason="jsonl_truncated", detail=str(error))


def _jsonl_row(
    raw_line: bytes, locator: str, source: str, domain: str | None,
    text_column: str, url_column: str | None,
) -> dict:
    fields = dict(source=source, fmt="jsonl", locator=locator, domain=domain)

    # 1. Decode and parse the line.
    try:
        # removeprefix: files saved by some Windows editors start with a UTF-8 BOM.
        record = json.loads(raw_line.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as error:
        return drop_row(reason="jsonl_invalid_utf8", detail=str(error), **fields)
    except json.JSONDecodeError as error:
        return drop_row(reason="jsonl_invalid_json", detail=str(error), **fields)
    if not isinstance(record, dict):
        return drop_row(reason="jsonl_not_object", detail=type(record).__name__, **fields)

    # 2. Pick the text and the optional URL.
    url = _lookup(record, url_column) if url_column else None
    fields["url"] = url if isinstance(url, str) else None
    field_paths = [text_column] if text_column in record else text_column.split("+")
    texts = []
    for field_path in field_paths:
        value = _lookup(record, field_path)
        if value is _MISSING or value is None:
            return drop_row(reason="jsonl_missing_text", detail=f"no field {field_path!r}", **fields)
        if not isinstance(value, str):
            detail = f"field {field_path!r} is a {type(value).__name__}, expected a string"
            return drop_row(reason="jsonl_text_not_string", detail=detail, **fields)
        texts.append(value)
    return document_row(text=TEXT_JOINER.join(texts), **fields)


def _lookup(record: dict, field_path: str) -> object:
    """Return the value at a field name or dotted path, or ``_MISSING``."""
    if field_path in record:
        return record[field_path]
    value: object = record
    for key in field_path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
    return value


def read_parquet(
    path: str, *, source: str, domain: str | None, text_column: str, url_column: str | None,
    start: int = 0, stop: int | None = None,
) -> Iterator[dict]:
    """Return an iterator of one row per record of a Parquet file, row group by row group.

    ``text_column`` names one top-level column, because the dotted and ``+``
    forms of JSONL are not supported here. Raises InputError at call time,
    before any row, when it is not a string column of the file. A missing
    ``url_column`` leaves ``url`` null. ``start`` and ``stop`` (None: the end)
    restrict the rows to a range of row numbers; a ``parquet_rest_unreadable``
    row then covers the rest of that range.
    """
    try:
        parquet_file = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as error:
        return iter([drop_row(source=source, fmt="parquet", locator=path, domain=domain,
                              reason="file_unreadable", detail=str(error))])

    schema = parquet_file.schema_arrow
    _check_text_column(schema, path, text_column)
    columns = [text_column]
    if url_column and url_column in schema.names and url_column != text_column:
        columns.append(url_column)
    return _parquet_rows(parquet_file, columns, path, source, domain, start, stop)


def _parquet_rows(
    parquet_file: pq.ParquetFile, columns: list[str], path: str, source: str, domain: str | None,
    start: int = 0, stop: int | None = None,
) -> Iterator[dict]:
    """Yield the rows numbered ``start`` up to ``stop`` (None: the end), decoding only their row groups."""
    text_column = columns[0]
    first_group, row_number = _row_group_at(parquet_file.metadata, start)
    row_groups = list(range(first_group, parquet_file.metadata.num_row_groups))
    try:
        if not row_groups:
            return
        for batch in parquet_file.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns, row_groups=row_groups):
            texts = batch.column(0).to_pylist()
            urls = batch.column(1).to_pylist() if len(columns) == 2 else [None] * len(texts)
            for text, url in zip(texts, urls):
                if stop is not None and row_number >= stop:
                    return
                if row_number >= start:
                    yield _parquet_row(text, url, f"{path}#row={row_number}", source, domain, text_column)
                row_number += 1
    except (OSError, pa.ArrowException) as error:
        # A corrupt page or row group: the rows from here on cannot be decoded.
        yield drop_row(source=source, fmt="parquet", locator=f"{path}#row={row_number}",
                       domain=domain, reason="parquet_rest_unreadable", detail=str(error))
    finally:
        parquet_file.close()


def _row_group_at(metadata: pq.FileMetaData, row: int) -> tuple[int, int]:
    """Return the row group that contains ``row`` and the number of its first row."""
    first_row = 0
    for group in range(metadata.num_row_groups):
        rows = metadata.row_group(group).num_rows
        if first_row + rows > row:
            return group, first_row
        first_row += rows
    return metadata.num_row_groups, first_row


def _check_text_column(schema: pa.Schema, path: str, text_column: str) -> None:
    if text_column not in schema.names:
        raise InputError(
            f"Parquet file {path} has no column {text_column!r} (columns: {schema.names}); "
            "set text_column to the column that holds the document text"
        )
    column_type = schema.field(text_column).type
    string_types = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    if not any(is_type(column_type) for is_type in string_types):
        raise InputError(
            f"Parquet column {text_column!r} in {path} has type {column_type}, expected a "
            "string column; set text_column to the column that holds the document text"
        )


def _parquet_row(
    text: str | None, url: object, locator: str, source: str, domain: str | None, text_column: str
) -> dict:
    fields = dict(source=source, fmt="parquet", locator=locator, domain=domain,
                  url=url if isinstance(url, str) else None)
    if text is None:
        return drop_row(reason="parquet_missing_text", detail=f"{text_column!r} is null", **fields)
    return document_row(text=text, **fields)
