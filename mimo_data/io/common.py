"""Row builders and the error type shared by the input readers."""

from __future__ import annotations

import logging
from collections import Counter

from mimo_data.document import make_doc_id

logger = logging.getLogger(__name__)

READ_STEP = "read"  # the drop_step of every row a reader marks as dropped

# A misconfigured field drops every line of a file, so after this many warnings
# for one reason in one process the rest go to DEBUG. The counts per reason
# belong in the manifest, not the log.
MAX_WARNINGS_PER_REASON = 20
_warnings_per_reason: Counter[str] = Counter()


class InputError(Exception):
    """A source is misconfigured: the path, format or column does not fit the input.

    Raised before any row of the affected input is yielded. A single bad record is
    never an ``InputError``: it becomes a row with ``drop_reason`` set instead.
    """


def document_row(
    *,
    source: str,
    fmt: str,
    locator: str,
    domain: str | None,
    url: str | None = None,
    content: bytes | None = None,
    content_type: str | None = None,
    text: str | None = None,
) -> dict:
    """Build a kept row with every column of ``DOCUMENT_SCHEMA``."""
    return {
        "id": make_doc_id(source, locator),
        "source": source,
        "domain": domain,
        "format": fmt,
        "path": locator,
        "url": url,
        "content": content,
        "content_type": content_type,
        "text": text,
        "drop_reason": None,
        "drop_step": None,
    }


def drop_row(
    *,
    source: str,
    fmt: str,
    locator: str,
    domain: str | None,
    reason: str,
    detail: str = "",
    url: str | None = None,
    content_type: str | None = None,
    quiet: bool = False,
) -> dict:
    """Build a row dropped at the read step and log it once.

    ``quiet`` logs at DEBUG instead of WARNING, for expected skips such as the
    request and metadata records of a WARC file, which are not failures.
    """
    row = document_row(
        source=source,
        fmt=fmt,
        locator=locator,
        domain=domain,
        url=url,
        content_type=content_type,
    )
    row["drop_reason"] = reason
    row["drop_step"] = READ_STEP
    _log_drop(locator, row["id"], reason, detail, quiet)
    return row


def _log_drop(locator: str, doc_id: str, reason: str, detail: str, quiet: bool) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.DEBUG
    else:
        _warnings_per_reason[reason] += 1
        seen = _warnings_per_reason[reason]
        if seen == MAX_WARNINGS_PER_REASON:
            logger.warning("%d rows dropped for %s; further ones are logged at DEBUG", seen, reason)
        if seen >= MAX_WARNINGS_PER_REASON:
            level = logging.DEBUG
    logger.log(level, "dropped %s (id %s): %s %s", locator, doc_id, reason, detail)
