"""Per-document limits around the extractors: size, wall time, binary junk and lxml's parser limits.

``extract_document`` is what the extract step calls for every HTML, WARC and PDF
document. It returns the Markdown text or a drop reason, and an exception from an
extractor becomes a drop reason too. The checks run in this order:

1. ``too_large``: raw bytes above ``html_max_bytes`` or ``pdf_max_bytes``. This is
   the only bound on lxml, whose parsing is one C call that no signal interrupts.
2. ``binary_content``: an HTML payload whose first bytes are mostly control bytes
   (images, archives or compressed data saved under an HTML name), and
   ``pdf_truncated``: a PDF without its closing ``%%EOF`` marker.
3. ``extract_timeout``: the extraction ran past its wall-time limit. In the main
   thread a SIGALRM timer stops it at the next Python bytecode. Elsewhere the
   elapsed time is checked when it returns, so the result is the same but a hang is
   not stopped.
4. ``html_too_deep`` and ``html_resource_limit``: libxml2 stopped parsing at a
   resource limit (256 levels of nesting, or a 10 MB text node without
   XML_PARSE_HUGE in libxml2 2.14) and returned a truncated tree without raising.
5. ``extract_internal_error``: an extractor raised something other than
   ExtractionError. One document's library bug is counted, logged with its
   traceback, and does not fail the whole build.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import lxml.etree

from mimo_data.config import ExtractStepConfig
from mimo_data.extract.errors import ExtractionError
from mimo_data.extract.html import extract_html
from mimo_data.extract.pdf import extract_pdf

logger = logging.getLogger(__name__)

# Bytes inspected by the binary check, and the share of control bytes above which a
# payload is not text. Random and compressed bytes have about 10.5% (27 of 256 byte
# values), while HTML in an ASCII-compatible encoding has almost none.
BINARY_SNIFF_BYTES = 8192
MAX_CONTROL_BYTE_FRACTION = 0.05

# C0 control bytes that do not occur in text: everything below 0x20 except tab,
# line feed, form feed, carriage return and escape (ISO-2022 encodings use escape).
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\f\r\x1b")

# UTF-16 and UTF-32 text is full of zero bytes; decode_html reads it by its byte order mark.
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")

# A complete PDF ends with "%%EOF". Some producers append bytes after it, so the
# check looks at the last 1024 bytes rather than the very end.
PDF_EOF_MARKER = b"%%EOF"
PDF_EOF_WINDOW_BYTES = 1024

# libxml2 messages of ERR_RESOURCE_LIMIT that mean the nesting depth limit was hit.
_DEPTH_MESSAGE = "Excessive depth"


class ExtractTimeout(BaseException):
    """Raised by the SIGALRM handler of ``time_limit``.

    A BaseException, like KeyboardInterrupt, so that ``except Exception`` blocks in
    library code do not swallow it.
    """


def extract_document(row: dict, limits: ExtractStepConfig) -> tuple[str | None, str | None]:
    """Extract one HTML, WARC or PDF row and return ``(text, drop reason)``; one of the two is None.

    ``row`` needs ``id``, ``format``, ``content``, ``content_type``, ``url`` and ``path``.
    Rows of other formats are returned with no text and no reason.
    """
    fmt = row["format"]
    if fmt not in ("html", "warc", "pdf"):
        return None, None
    content = row["content"] or b""
    is_pdf = fmt == "pdf"

    # 1. Checks on the raw bytes, before any parser reads them.
    # A build drops whole HTML and PDF files over the limit before reading them (see
    # ``mimo_data.units``). NOTE: a WARC record or a gzipped page over the limit is
    # still loaded into memory once before this check.
    max_bytes = limits.pdf_max_bytes if is_pdf else limits.html_max_bytes
    if len(content) > max_bytes:
        _log_drop(row, "too_large", f"{len(content)} bytes, limit {max_bytes}")
        return None, "too_large"
    if not is_pdf and is_binary(content):
        _log_drop(row, "binary_content", f"more than {MAX_CONTROL_BYTE_FRACTION:.0%} control bytes")
        return None, "binary_content"
    if is_pdf and PDF_EOF_MARKER not in content[-PDF_EOF_WINDOW_BYTES:]:
        # pymupdf rebuilds the cross-reference table of a cut file and returns
        # the pages it still finds, which would be kept as if whole.
        _log_drop(row, "pdf_truncated", f"no {PDF_EOF_MARKER!r} in the last {PDF_EOF_WINDOW_BYTES} bytes")
        return None, "pdf_truncated"

    # 2. The extraction itself, under a wall-time limit and lxml's resource limits.
    timeout = limits.pdf_timeout_seconds if is_pdf else limits.html_timeout_seconds
    recorder = _resource_limit_recorder()
    recorder.clear()
    started = time.monotonic()
    try:
        with time_limit(timeout):
            if is_pdf:
                text = extract_pdf(content, path=row["path"], max_pages=limits.pdf_max_pages, timeout_seconds=timeout).text
            else:
                text = extract_html(content, url=row["url"], content_type=row["content_type"]).text
    except ExtractTimeout:
        text = None
    except ExtractionError as error:
        _log_drop(row, error.reason, str(error))
        return None, error.reason
    except Exception:  # noqa: BLE001 - one document's library bug must not fail the build
        logger.exception("extractor failed on document %s (%s)", row["id"], row["path"])
        return None, "extract_internal_error"
    elapsed = time.monotonic() - started

    # 3. Results that exist but must not be kept.
    # NOTE: a document whose extraction time is close to the limit may be kept in one
    # run and dropped in another, so reruns are byte-identical only below the limit.
    if text is None or elapsed > timeout:
        _log_drop(row, "extract_timeout", f"stopped after {elapsed:.1f} s, limit {timeout} s")
        return None, "extract_timeout"
    if recorder.messages:
        reason = "html_too_deep" if any(_DEPTH_MESSAGE in m for m in recorder.messages) else "html_resource_limit"
        _log_drop(row, reason, recorder.messages[0].strip())
        return None, reason
    return text, None


def is_binary(content: bytes) -> bool:
    """Return True when the first ``BINARY_SNIFF_BYTES`` are more than 5% control bytes."""
    head = content[:BINARY_SNIFF_BYTES]
    if not head or head.startswith(_WIDE_BOMS):
        return False
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls > MAX_CONTROL_BYTE_FRACTION * len(head)


@contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Raise ExtractTimeout in the body once ``seconds`` of wall time have passed.

    Uses a SIGALRM interval timer, so it works only in the main thread of a process
    (where Ray runs task functions) on POSIX. Elsewhere the body runs unbounded and
    the context yields False, so the caller must also compare the elapsed time.
    A timer that fires inside a C call (an lxml parse, a pymupdf page) raises only
    when that call returns.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield False
        return

    def on_alarm(signum, frame):
        raise ExtractTimeout(f"timed out after {seconds} s")

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    previous_delay = 0.0
    try:
        previous_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:
            # Give back an outer timer (pytest-timeout, for one) what is left of its time.
            remaining = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3))


class _ResourceLimitRecorder(lxml.etree.PyErrorLog):
    """Keeps the messages of libxml2 ERR_RESOURCE_LIMIT errors and ignores every other entry."""

    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def receive(self, log_entry) -> None:
        if log_entry.type == lxml.etree.ErrorTypes.ERR_RESOURCE_LIMIT:
            self.messages.append(log_entry.message)

    def clear(self) -> None:
        self.messages = []


_recorders = threading.local()


def _resource_limit_recorder() -> _ResourceLimitRecorder:
    """Install the recorder as this thread's lxml global error log, once per thread.

    The HTML parser is created inside extract_html, so its own error log is out of
    reach. Every libxml2 error is also passed to the thread's global log, which
    ``lxml.etree.use_global_python_log`` replaces (lxml 2.2 and later, per thread).
    NOTE: exceptions raised by lxml in this thread then no longer carry the global
    log's entries; nothing in this package reads them.
    """
    recorder = getattr(_recorders, "recorder", None)
    if recorder is None:
        recorder = _ResourceLimitRecorder()
        lxml.etree.use_global_python_log(recorder)
        _recorders.recorder = recorder
    return recorder


def _log_drop(row: dict, reason: str, detail: str) -> None:
    logger.warning("extraction dropped document %s (%s): %s: %s", row["id"], row["path"], reason, detail)
