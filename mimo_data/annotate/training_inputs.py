"""Read labelled texts for classifier training from JSONL, Parquet and plain-text files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq

SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet", ".txt")


def _files(paths: list[str]) -> list[Path]:
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.name.endswith(SUFFIXES)))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: training input not found")
    return files


def read_texts(paths: list[str], *, text_column: str = "text") -> list[tuple[str, str | None]]:
    """Return ``(text, url)`` pairs from files or folders.

    JSONL and Parquet give one document per record (``text_column``, and ``url`` when
    present); a ``.txt`` file is one document. Records without text are skipped, and a file
    of another type raises FileNotFoundError naming the allowed suffixes.
    """
    documents: list[tuple[str, str | None]] = []
    for path in _files(paths):
        if path.name.endswith(".parquet"):
            table = pq.read_table(path)
            if text_column not in table.column_names:
                raise FileNotFoundError(f"{path}: no column {text_column!r}; columns: {table.column_names}")
            urls = table.column("url").to_pylist() if "url" in table.column_names else [None] * table.num_rows
            documents.extend((text, url) for text, url in zip(table.column(text_column).to_pylist(), urls) if text)
        elif path.name.endswith((".jsonl", ".jsonl.gz")):
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as lines:
                records = [json.loads(line) for line in lines if line.strip()]
            documents.extend((r[text_column], r.get("url")) for r in records if r.get(text_column))
        elif path.name.endswith(".txt"):
            documents.append((path.read_text(encoding="utf-8"), None))
        else:
            raise FileNotFoundError(f"{path}: unsupported training input; expected one of {', '.join(SUFFIXES)}")
    return documents
