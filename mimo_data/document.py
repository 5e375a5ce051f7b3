"""The Document schema shared by every step, and helpers to build and mark rows.

A batch of documents is a ``pyarrow.Table``. Every step receives a table with at
least the columns of ``DOCUMENT_SCHEMA`` and returns one with the same rows in the
same order, possibly with more columns. A step never removes a row: it sets
``drop_reason`` (and ``drop_step``) instead, so the engine can count every drop.
Rows whose ``drop_reason`` is already set are passed through untouched.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

# Columns every document row carries from the reader onwards.
DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # pipeline source name
        pa.field("domain", pa.string()),  # e.g. "web", "math", "code", "synthetic"
        pa.field("format", pa.string(), nullable=False),  # warc, html, pdf, jsonl, parquet
        pa.field("path", pa.string()),  # input file, plus "#locator" inside containers
        pa.field("url", pa.string()),
        pa.field("content", pa.binary()),  # raw HTML or PDF bytes; null for text formats
        pa.field("content_type", pa.string()),  # HTTP Content-Type header when known
        pa.field("text", pa.string()),  # extracted Markdown; null until extracted
        pa.field("drop_reason", pa.string()),  # null while the document is kept
        pa.field("drop_step", pa.string()),  # the step that set drop_reason
    ]
)

ID_HEX_CHARS = 16  # 64 bits: collisions are negligible below billions of documents


def make_doc_id(source: str, locator: str) -> str:
    """Return the deterministic id of a document from its source name and locator.

    The locator is whatever pins the document inside its source: a file path, a
    path plus WARC record offset, a path plus JSONL line number.
    """
    digest = hashlib.sha1(f"{source}\x00{locator}".encode("utf-8")).hexdigest()
    return digest[:ID_HEX_CHARS]


def empty_documents() -> pa.Table:
    """Return an empty table with the document schema."""
    return DOCUMENT_SCHEMA.empty_table()


def documents_from_rows(rows: Sequence[dict]) -> pa.Table:
    """Build a document table from dicts; missing columns become null."""
    columns = {field.name: [row.get(field.name) for row in rows] for field in DOCUMENT_SCHEMA}
    return pa.Table.from_pydict(columns, schema=DOCUMENT_SCHEMA)


def kept_mask(table: pa.Table) -> pa.ChunkedArray:
    """Return a boolean mask of rows that no step has dropped yet."""
    return pc.is_null(table.column("drop_reason"))


def mark_dropped(table: pa.Table, reasons: Iterable[str | None], step: str) -> pa.Table:
    """Set ``drop_reason`` and ``drop_step`` on rows where ``reasons`` is not None.

    ``reasons`` has one entry per row. Rows already dropped keep their first reason.
    """
    old_reasons = table.column("drop_reason").to_pylist()
    old_steps = table.column("drop_step").to_pylist()
    new_reasons: list[str | None] = []
    new_steps: list[str | None] = []
    for old_reason, old_step, reason in zip(old_reasons, old_steps, reasons):
        if old_reason is None and reason is not None:
            new_reasons.append(reason)
            new_steps.append(step)
        else:
            new_reasons.append(old_reason)
            new_steps.append(old_step)
    table = set_column(table, "drop_reason", pa.array(new_reasons, pa.string()))
    return set_column(table, "drop_step", pa.array(new_steps, pa.string()))


def set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """Replace column ``name`` with ``values``, or append it when absent."""
    index = table.schema.get_field_index(name)
    if index < 0:
        return table.append_column(name, values)
    return table.set_column(index, name, values)
