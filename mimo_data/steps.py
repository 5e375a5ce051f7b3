"""Batch→batch steps that glue the readers, extractors and tokenizer to the Document table.

Each step is a plain function or a class with its setup in ``__init__`` and the
per-batch work in ``__call__``, so tests call it on a small ``pyarrow.Table`` and the
engine maps it with Ray Data ``map_batches``.
"""

from __future__ import annotations

import logging
from typing import Iterator

import numpy as np
import pyarrow as pa

from mimo_data.document import DOCUMENT_SCHEMA, documents_from_rows, mark_dropped, set_column

logger = logging.getLogger(__name__)

# Columns of the table of input files that the read step expands into documents.
INPUT_FILE_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("format", pa.string()),
        ("source", pa.string()),
        ("domain", pa.string()),
        ("text_column", pa.string()),
        ("url_column", pa.string()),
    ]
)


# A unit of work: the rows ``start`` up to ``stop`` (null: the end) of one input file.
# ``offset`` and ``lines_before`` locate the first row (see mimo_data.io.ranges.RecordRange),
# and ``key`` names the unit's committed output.
UNIT_SCHEMA = pa.schema(
    list(INPUT_FILE_SCHEMA)
    + [
        ("start", pa.int64()),
        ("stop", pa.int64()),
        ("offset", pa.int64()),
        ("lines_before", pa.int64()),
        ("key", pa.string()),
    ]
)


def read_files(files: pa.Table) -> pa.Table:
    """Read every input file (or unit, with the columns of ``UNIT_SCHEMA``) of the batch into document rows.

    Bad records become drop rows.
    """
    rows: list[dict] = []
    for spec in files.to_pylist():
        rows.extend(read_spec(spec))
    return documents_from_rows(rows)


def read_spec(spec: dict) -> Iterator[dict]:
    """Yield the document rows of one input file, or of one unit when ``spec`` has a ``start``."""
    from mimo_data.io import read_file
    from mimo_data.io.ranges import RecordRange, read_range

    fields = dict(source=spec["source"], domain=spec["domain"], text_column=spec["text_column"],
                  url_column=spec["url_column"])
    if spec.get("start") is None:
        return read_file(spec["format"], spec["path"], **fields)
    record_range = RecordRange(start=spec["start"], stop=spec["stop"], offset=spec["offset"],
                               lines_before=spec["lines_before"])
    return read_range(spec["format"], spec["path"], record_range, **fields)


def extract_text(table: pa.Table, *, limits: dict | None = None) -> pa.Table:
    """Turn raw HTML and PDF bytes into Markdown text; drop documents with no text.

    ``limits`` contains the fields of ``ExtractStepConfig`` (sizes, wall times, PDF
    pages); None uses its defaults. A document over a limit, or one an extractor
    cannot handle, is dropped with a reason (see ``mimo_data.extract.limits``). The
    raw bytes are cleared afterwards so later steps do not carry them around.
    """
    from mimo_data.config import ExtractStepConfig
    from mimo_data.extract.limits import extract_document

    config = ExtractStepConfig(**(limits or {}))
    texts = table.column("text").to_pylist()
    reasons: list[str | None] = []
    columns = ["id", "format", "content", "content_type", "url", "path", "drop_reason"]
    for i, row in enumerate(table.select(columns).to_pylist()):
        reason = None
        if row["drop_reason"] is None:
            text, reason = extract_document(row, config)
            if text is not None:
                texts[i] = text
            if reason is None and not (texts[i] or "").strip():
                reason = "empty_text"
        reasons.append(reason)

    table = set_column(table, "text", pa.array(texts, pa.string()))
    table = set_column(table, "content", pa.nulls(table.num_rows, pa.binary()))
    return mark_dropped(table, reasons, step="extract")


class LanguageFilter:
    """Drop documents whose language is not kept or whose language score is too low."""

    def __init__(self, *, keep: list[str], min_score: float):
        self.keep = set(keep)
        self.min_score = min_score

    def __call__(self, table: pa.Table) -> pa.Table:
        reasons: list[str | None] = []
        for lang, score, dropped in zip(
            table.column("lang").to_pylist(),
            table.column("lang_score").to_pylist(),
            table.column("drop_reason").to_pylist(),
        ):
            if dropped is not None:
                reasons.append(None)
            elif score is None or score < self.min_score:
                reasons.append("language_score_low")
            elif self.keep and lang not in self.keep:
                reasons.append("language_not_kept")
            else:
                reasons.append(None)
        return mark_dropped(table, reasons, step="language")


class QualityFilter:
    """Drop documents whose quality score is below ``min_score``."""

    def __init__(self, *, min_score: float):
        self.min_score = min_score

    def __call__(self, table: pa.Table) -> pa.Table:
        reasons = [
            "quality_low" if dropped is None and (score is None or score < self.min_score) else None
            for score, dropped in zip(table.column("quality").to_pylist(), table.column("drop_reason").to_pylist())
        ]
        return mark_dropped(table, reasons, step="quality")


class AnnotateStep:
    """Language, heuristic signals, quality and domain tags, with their filters, in one pass.

    The models load once per worker; the filters still record their own step names,
    so the accounting shows each of them. ``domain`` contains the fields of
    ``DomainStepConfig``; None uses its defaults (rules only, no drops).
    """

    def __init__(self, *, language: dict, heuristics: dict, quality: dict, domain: dict | None = None):
        from mimo_data.annotate.domain import DomainFilter, DomainTagger
        from mimo_data.annotate.heuristics import HeuristicFilter, HeuristicSignals
        from mimo_data.annotate.language import LanguageTagger
        from mimo_data.annotate.quality import QualityScorer

        domain = domain or {}
        self.steps = [
            LanguageTagger(),
            LanguageFilter(keep=language["keep"], min_score=language["min_score"]),
            HeuristicSignals(),
            HeuristicFilter(**heuristics),
            QualityScorer(model_path=quality["model_path"]),
            QualityFilter(min_score=quality["min_score"]),
            DomainTagger(
                model_path=domain.get("model_path"),
                min_rule_score=domain.get("min_rule_score", 1.0),
                min_model_prob=domain.get("min_model_prob", 0.5),
            ),
            DomainFilter(
                drop_tags=domain.get("drop_tags", ()),
                min_reasoning_density=domain.get("min_reasoning_density", 0.0),
            ),
        ]

    def __call__(self, table: pa.Table) -> pa.Table:
        for step in self.steps:
            table = step(table)
        return table


class TokenizeStep:
    """Add ``token_ids`` (int32, no special tokens) and ``token_count`` to kept documents.

    Dropped rows get null in both columns. A kept document that encodes to no token is
    dropped with reason ``no_tokens``.
    """

    def __init__(self, *, tokenizer: str):
        from mimo_data.tokenize import load_tokenizer

        self.tokenizer = load_tokenizer(tokenizer)

    def __call__(self, table: pa.Table) -> pa.Table:
        # 1. Encode the kept rows only.
        is_kept = np.array([reason is None for reason in table.column("drop_reason").to_pylist()], dtype=bool)
        texts = table.column("text").to_pylist()
        kept_rows = np.flatnonzero(is_kept)
        encoded = self.tokenizer.encode_batch([texts[i] for i in kept_rows]) if kept_rows.size else []

        # 2. Build the list column from one flat int32 array and row offsets. Dropped rows are
        # null and take no values.
        counts = np.zeros(table.num_rows, dtype=np.int32)
        counts[kept_rows] = [len(token_ids) for token_ids in encoded]
        offsets = np.zeros(table.num_rows + 1, dtype=np.int64)
        np.cumsum(counts, dtype=np.int64, out=offsets[1:])
        if offsets[-1] > np.iinfo(np.int32).max:
            raise ValueError(
                f"a batch of {table.num_rows} documents has {offsets[-1]} tokens, more than a list<int32> "
                "column holds (2**31 - 1); use smaller batches"
            )
        values = np.concatenate(encoded).astype(np.int32, copy=False) if encoded else np.zeros(0, dtype=np.int32)
        null_rows = pa.array(~is_kept)
        token_ids = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values), mask=null_rows)
        table = set_column(table, "token_ids", token_ids)
        table = set_column(table, "token_count", pa.array(counts, pa.int32(), mask=~is_kept))

        # 3. Drop kept documents without a token.
        reasons = [None if not row_kept or count > 0 else "no_tokens" for row_kept, count in zip(is_kept, counts)]
        return mark_dropped(table, reasons, step="tokenize")


__all__ = [
    "DOCUMENT_SCHEMA",
    "INPUT_FILE_SCHEMA",
    "UNIT_SCHEMA",
    "AnnotateStep",
    "LanguageFilter",
    "QualityFilter",
    "TokenizeStep",
    "extract_text",
    "read_files",
    "read_spec",
]
