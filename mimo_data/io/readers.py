"""Expand input paths and read files of every supported format into document rows.

``list_inputs`` turns a source's path into files, and ``read_file`` turns one file
into row dicts with the columns of ``mimo_data.document.DOCUMENT_SCHEMA``. The
engine batches those rows with ``documents_from_rows``.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Iterator

from mimo_data.io.common import InputError
from mimo_data.io.files import read_html, read_pdf
from mimo_data.io.records import read_jsonl, read_parquet
from mimo_data.io.warc import read_warc

logger = logging.getLogger(__name__)

FORMATS = ("warc", "html", "pdf", "jsonl", "parquet")

# File name endings per format, matched case-insensitively.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "warc": (".warc", ".warc.gz", ".arc", ".arc.gz"),
    "html": (".html", ".htm", ".html.gz", ".htm.gz"),
    "pdf": (".pdf",),
    "jsonl": (".jsonl", ".jsonl.gz"),
    "parquet": (".parquet",),
}

GLOB_CHARACTERS = "*?["


def list_inputs(fmt: str, path: str) -> list[str]:
    """Expand a file, a folder or a glob pattern into a sorted list of file paths.

    A folder is searched recursively and a glob may use ``**``. Both keep only
    files with the format's extensions (see ``EXTENSIONS``). A path that names a
    file is returned as it is, whatever its extension, because the user chose it.
    Raises InputError for an unknown format or when nothing matches.
    """
    extensions = _extensions(fmt)

    if any(character in path for character in GLOB_CHARACTERS):
        candidates = glob.glob(path, recursive=True)
    elif os.path.isfile(path):
        return [path]
    elif os.path.isdir(path):
        candidates = [
            os.path.join(folder, name)
            for folder, _subfolders, names in os.walk(path)
            for name in names
        ]
    else:
        raise InputError(f"input path {path!r} does not exist; check the source's path")

    files = sorted(
        candidate
        for candidate in candidates
        if os.path.isfile(candidate) and candidate.lower().endswith(extensions)
    )
    if not files:
        raise InputError(
            f"no {fmt} files found under {path!r}: looked for names ending in "
            f"{', '.join(extensions)}; check the path or the source's format"
        )
    return files


def read_file(
    fmt: str,
    path: str,
    *,
    source: str,
    domain: str | None = None,
    text_column: str = "text",
    url_column: str | None = "url",
) -> Iterator[dict]:
    """Yield one row dict per document in ``path``; see the module of each format.

    ``id`` is ``make_doc_id(source, locator)`` and the ``path`` column contains the
    locator: the file path, plus ``#offset=N`` for a WARC record, ``#line=N``
    (from 1) for a JSONL line or ``#row=N`` (from 0) for a Parquet row. HTML,
    PDF and WARC rows carry raw bytes in ``content``; JSONL and Parquet rows
    carry ``text``. ``text_column`` and ``url_column`` apply to JSONL and Parquet.

    A record that cannot be read becomes a row with ``drop_reason`` set and
    ``drop_step`` "read". Raises InputError only for a configuration error: an
    unknown format, or a Parquet file without ``text_column``.
    """
    _extensions(fmt)  # rejects an unknown format before the file is touched

    if fmt == "warc":
        return read_warc(path, source=source, domain=domain)
    if fmt == "html":
        return read_html(path, source=source, domain=domain)
    if fmt == "pdf":
        return read_pdf(path, source=source, domain=domain)
    if fmt == "jsonl":
        return read_jsonl(path, source=source, domain=domain,
                          text_column=text_column, url_column=url_column)
    return read_parquet(path, source=source, domain=domain,
                        text_column=text_column, url_column=url_column)


def _extensions(fmt: str) -> tuple[str, ...]:
    if fmt not in EXTENSIONS:
        raise InputError(f"unknown input format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return EXTENSIONS[fmt]
