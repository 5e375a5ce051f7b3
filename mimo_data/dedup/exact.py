"""Exact deduplication by text hash and by normalised URL, across all sources at once.

The per-batch functions here append a key per document (:func:`text_hash_batch`,
:func:`url_key_batch`) and mark chosen duplicates (:func:`mark_duplicates`). The grouping
by key runs on Ray in :mod:`mimo_data.dedup.global_dedup`; :func:`select_exact_duplicates`
is its in-memory counterpart for small tables.

Each group keeps its representative: the highest quality score, then the smallest id. That
choice does not depend on input order or on how rows were split into batches, so reruns
drop the same documents.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import xxhash

from mimo_data.document import kept_mask, mark_dropped, set_column

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_WHITESPACE = re.compile(r"\s+")

# Query parameters that track a click or campaign and never select the page: Google
# Analytics (utm_*), Google and Microsoft ad click ids, Facebook, Mailchimp, HubSpot.
_TRACKING_PREFIXES = ("utm_", "_hs")
_TRACKING_PARAMETERS = frozenset(
    {"gclid", "dclid", "gbraid", "wbraid", "msclkid", "fbclid", "igshid", "mc_cid", "mc_eid", "_ga", "yclid", "ref_src"}
)


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
    """Return the dedup key of ``url``, or None when it has no http(s) scheme and host.

    The key drops the scheme (http and https pages are the same page), a leading ``www.``,
    the default port (80 or 443), the fragment, a trailing slash and tracking parameters
    (``utm_*``, ``gclid``, ``fbclid`` and the like). Host is lower-cased, the path keeps its
    case, and the remaining query parameters are kept, sorted, because they often select
    the page (``?id=42``).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:  # an invalid port or IPv6 literal
        logger.warning("invalid url %r, no url_key: %s", url, error)
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None

    host = parts.hostname  # urlsplit already lower-cases it and drops the user info
    host = host.removeprefix("www.")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted(
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name.lower() not in _TRACKING_PARAMETERS and not name.lower().startswith(_TRACKING_PREFIXES)
    )
    return urlunsplit(SplitResult("", host, path, urlencode(query), "")).removeprefix("//")


def url_key_batch(table: pa.Table) -> pa.Table:
    """Append ``url_key`` (string); null for dropped rows and rows without a usable url."""
    keep = kept_mask(table).to_pylist()
    urls = table.column("url").to_pylist()
    keys = [
        normalise_url(url) if is_kept and url else None for is_kept, url in zip(keep, urls)
    ]
    return set_column(table, "url_key", pa.array(keys, pa.string()))


def rank_key(doc_id: str, quality: float | None) -> tuple[float, str]:
    """Return the sort key of a representative: highest quality first, then smallest id.

    A null quality ranks below every score.
    """
    return (-quality if quality is not None else float("inf"), doc_id)


def select_exact_duplicates(
    ids: Sequence[str],
    keys: Sequence[int | str | None],
    qualities: Sequence[float | None] | None = None,
) -> dict[str, str]:
    """Return ``{dropped id: kept id}`` for every document whose key another one shares.

    Each group of equal keys keeps the document with the highest quality, then the smallest
    id. A None key takes part in no group. Raises ValueError when the sequences differ in
    length and DuplicateIdError when an id repeats.
    """
    qualities = list(qualities) if qualities is not None else [None] * len(ids)
    if not len(ids) == len(keys) == len(qualities):
        raise ValueError(
            f"ids, keys and qualities must have the same length, got {len(ids)}, {len(keys)} and {len(qualities)}"
        )
    check_unique_ids(ids)

    kept_by_key: dict[int | str, tuple[float, str]] = {}
    for doc_id, key, quality in zip(ids, keys, qualities):
        if key is None:
            continue
        rank = rank_key(doc_id, quality)
        kept = kept_by_key.get(key)
        if kept is None or rank < kept:
            kept_by_key[key] = rank

    return {
        doc_id: kept_by_key[key][1]
        for doc_id, key in zip(ids, keys)
        if key is not None and kept_by_key[key][1] != doc_id
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
