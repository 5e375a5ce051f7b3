"""Exact deduplication by text hash and by normalised URL, across all sources at once.

Global dedup is three phases, so only compact keys ever reach the driver:

1. per batch, :func:`text_hash_batch` or :func:`url_key_batch` appends a key per document;
2. on the driver, :func:`select_exact_duplicates` reads every ``(id, key)`` pair and
   decides which ids to drop, keeping the smallest id of each group;
3. per batch, :func:`mark_duplicates` marks the chosen ids as dropped.

Keeping the smallest id makes the choice independent of input order and of how the rows
were split into batches, so reruns drop the same documents.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit, urlunsplit

import pyarrow as pa
import xxhash

from mimo_data.document import kept_mask, mark_dropped, set_column

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_WHITESPACE = re.compile(r"\s+")


class DuplicateIdError(ValueError):
    """The same document id appears twice among the keys given to a dedup selection."""


def normalise_text(text: str) -> str:
    """Return ``text`` in Unicode NFC with whitespace runs collapsed to one space, stripped."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def text_hash(text: str) -> int:
    """Return the xxhash64 of the normalised ``text`` as an unsigned 64-bit integer."""
    return xxhash.xxh64_intdigest(normalise_text(text).encode("utf-8"))


def text_hash_batch(table: pa.Table) -> pa.Table:
    """Append ``text_hash`` (uint64); null for dropped rows and rows with null text."""
    keep = kept_mask(table).to_pylist()
    texts = table.column("text").to_pylist()
    hashes = [
        text_hash(text) if is_kept and text is not None else None
        for is_kept, text in zip(keep, texts)
    ]
    return set_column(table, "text_hash", pa.array(hashes, pa.uint64()))


def normalise_url(url: str) -> str | None:
    """Return the dedup key of ``url``, or None when it has no scheme and host.

    The key has a lower-case scheme and host, no default port (80 for http, 443 for https),
    no fragment and no trailing slash on the path. The query string is kept, because it
    often selects the page (``?id=42``).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:  # an invalid port or IPv6 literal
        logger.warning("invalid url %r, no url_key: %s", url, error)
        return None
    if not parts.scheme or not parts.hostname:
        return None

    scheme = parts.scheme.lower()
    host = parts.hostname  # urlsplit already lower-cases it and drops the user info
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    return urlunsplit(SplitResult(scheme, host, path, parts.query, ""))


def url_key_batch(table: pa.Table) -> pa.Table:
    """Append ``url_key`` (string); null for dropped rows and rows without a usable url."""
    keep = kept_mask(table).to_pylist()
    urls = table.column("url").to_pylist()
    keys = [
        normalise_url(url) if is_kept and url else None for is_kept, url in zip(keep, urls)
    ]
    return set_column(table, "url_key", pa.array(keys, pa.string()))


def select_exact_duplicates(
    ids: Sequence[str], keys: Sequence[int | str | None]
) -> dict[str, str]:
    """Return ``{dropped id: kept id}`` for every document whose key another one shares.

    Each group of equal keys keeps its smallest id. A None key takes part in no group.
    Raises ValueError when the sequences differ in length and DuplicateIdError when an id
    repeats.
    """
    if len(ids) != len(keys):
        raise ValueError(f"ids and keys must have the same length, got {len(ids)} and {len(keys)}")
    check_unique_ids(ids)

    kept_by_key: dict[int | str, str] = {}
    for doc_id, key in zip(ids, keys):
        if key is None:
            continue
        kept = kept_by_key.get(key)
        if kept is None or doc_id < kept:
            kept_by_key[key] = doc_id

    return {
        doc_id: kept_by_key[key]
        for doc_id, key in zip(ids, keys)
        if key is not None and kept_by_key[key] != doc_id
    }


def check_unique_ids(ids: Sequence[str]) -> None:
    """Raise DuplicateIdError naming the first id that occurs twice in ``ids``."""
    seen: set[str] = set()
    for doc_id in ids:
        if doc_id in seen:
            raise DuplicateIdError(
                f"document id {doc_id!r} occurs twice; collect each document's key once "
                "(ids are unique per source and locator)"
            )
        seen.add(doc_id)


def mark_duplicates(
    table: pa.Table, dropped: dict[str, str], *, step: str, reason: str
) -> pa.Table:
    """Drop the rows whose id is a key of ``dropped``, and record the kept id.

    Sets ``drop_reason`` to ``reason`` and ``drop_step`` to ``step`` on those rows, and
    ``duplicate_of`` (string) to the id of the kept copy. Rows dropped by an earlier step keep
    their reason, and a ``duplicate_of`` value set by an earlier dedup step is kept.
    """
    keep = kept_mask(table).to_pylist()
    ids = table.column("id").to_pylist()
    if "duplicate_of" in table.column_names:
        duplicate_of = table.column("duplicate_of").to_pylist()
    else:
        duplicate_of = [None] * table.num_rows

    reasons: list[str | None] = []
    for row, (is_kept, doc_id) in enumerate(zip(keep, ids)):
        kept_id = dropped.get(doc_id) if is_kept else None
        reasons.append(reason if kept_id is not None else None)
        if kept_id is not None:
            duplicate_of[row] = kept_id

    table = mark_dropped(table, reasons, step=step)
    return set_column(table, "duplicate_of", pa.array(duplicate_of, pa.string()))
