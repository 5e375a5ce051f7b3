"""Decode raw HTML bytes to text, honouring BOM, HTTP header and <meta> declarations."""

from __future__ import annotations

import codecs
import logging
import re

import charset_normalizer

logger = logging.getLogger(__name__)

# Browsers look for <meta charset> in the first 1024 bytes (HTML living standard,
# "prescan a byte stream"); real pages often put it later, behind long comments or
# scripts, so we look a little further.
META_SCAN_BYTES = 4096

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # must precede UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_HEADER_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_META_CHARSET_RE = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)

# Declared names that must be read as a wider encoding: real GB2312 and GBK pages
# contain characters outside those tables, and GB18030 is a superset of both.
# ISO-8859-1 and ASCII are read as Windows-1252 for the same reason (WHATWG Encoding).
_SUPERSET_CHARSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "csgb2312": "gb18030",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}


def decode_html(content: bytes, *, content_type: str | None = None) -> tuple[str, str]:
    """Decode HTML bytes and return ``(text, charset used)``.

    The charset comes from, in order: a byte order mark, the ``charset`` of the
    HTTP Content-Type header, a ``<meta charset>`` or ``<meta http-equiv>`` tag in
    the first ``META_SCAN_BYTES`` bytes, strict UTF-8, and finally
    charset_normalizer's guess. A declared legacy charset loses to UTF-8 when the
    bytes contain non-ASCII and are valid UTF-8, because such pages were re-saved
    as UTF-8 without updating their tag, and legacy CJK text almost never happens
    to form valid UTF-8. Bad bytes raise nothing, because the detector and the last
    resort decode with replacement characters. Raises TypeError for input that is
    not bytes.
    """
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode_html expects bytes, got {type(content).__name__}")
    content = bytes(content)

    for bom, charset in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(charset, errors="replace"), charset

    declared = _declared_charset(content, content_type)
    if declared is not None and declared != "utf-8":
        utf8_text = None if content.isascii() else _strict_utf8(content)
        if utf8_text is not None:
            logger.debug("declared charset %s ignored: bytes are valid UTF-8", declared)
            return utf8_text, "utf-8"
        try:
            return content.decode(declared), declared
        except UnicodeDecodeError:
            logger.debug("bytes are not valid %s, detecting the charset instead", declared)

    utf8_text = _strict_utf8(content)
    if utf8_text is not None:
        return utf8_text, "utf-8"
    return _detect(content)


def normalize_charset(name: str) -> str | None:
    """Return the Python codec name for a declared charset, or None when unknown."""
    name = name.strip().strip("\"'").lower()
    name = _SUPERSET_CHARSETS.get(name, name)
    try:
        codec = codecs.lookup(name)
    except LookupError:
        return None
    python_name = codec.name
    return _SUPERSET_CHARSETS.get(python_name, python_name)


def _declared_charset(content: bytes, content_type: str | None) -> str | None:
    candidates: list[str] = []
    if content_type:
        match = _HEADER_CHARSET_RE.search(content_type)
        if match:
            candidates.append(match.group(1))
    match = _META_CHARSET_RE.search(content[:META_SCAN_BYTES])
    if match:
        candidates.append(match.group(1).decode("ascii", errors="replace"))

    for candidate in candidates:
        charset = normalize_charset(candidate)
        if charset is None:
            logger.debug("unknown declared charset %r", candidate)
        elif charset.startswith(("utf-16", "utf-32")):
            # A UTF-16/32 declaration that could be read as ASCII is false (WHATWG Encoding).
            logger.debug("declared charset %r ignored: the bytes are ASCII-compatible", candidate)
        else:
            return charset
    return None


def _strict_utf8(content: bytes) -> str | None:
    """Return the content decoded as UTF-8, or None when it is not valid UTF-8."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _detect(content: bytes) -> tuple[str, str]:
    best = charset_normalizer.from_bytes(content).best()
    if best is None:
        logger.debug("no charset detected, decoding UTF-8 with replacement characters")
        return content.decode("utf-8", errors="replace"), "utf-8"
    charset = normalize_charset(best.encoding) or best.encoding
    return content.decode(charset, errors="replace"), charset
