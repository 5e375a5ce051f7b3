"""Benchmark decontamination: drop documents that share word n-grams with benchmark items.

Text is normalised before n-grams are taken: NFKC, lowercase, and split into runs of
letters and digits, with each CJK character a token of its own. LaTeX commands therefore
become plain words (``\\frac`` is "frac"), and punctuation and spacing do not matter. An
item shorter than ``n`` tokens contributes its whole token sequence as one n-gram when it
has at least ``min_item_tokens`` tokens; shorter items are too generic to match on.

A document is contaminated when it contains at least ``min_matched_ngrams`` distinct
n-grams of one benchmark item. :class:`DecontamStep` marks it dropped with reason
"benchmark_overlap" (or only records the matches, with ``action: tag``) and stores the
matched items as ``decontam_matches`` ("benchmark/item_id" strings).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import xxhash

from mimo_data.annotate.markup import CJK_RANGES
from mimo_data.document import kept_mask, mark_dropped, set_column

logger = logging.getLogger(__name__)

STEP = "decontam"
DROP_REASON = "benchmark_overlap"
ACTIONS = ("drop", "tag")
# Fields tried in this order when a benchmark does not name its text fields.
DEFAULT_TEXT_FIELDS = ("question", "problem", "prompt", "text")
DEFAULT_ID_FIELDS = ("task_id", "unique_id", "id", "idx")

_TOKEN_PATTERN = re.compile(rf"[{CJK_RANGES}]|[^\W_{CJK_RANGES}]+")


class BenchmarkFileError(ValueError):
    """A benchmark file that cannot be read: missing, not JSON Lines, or without text fields."""


@dataclass(kw_only=True)
class BenchmarkSpec:
    """One benchmark file of JSON Lines (optionally gzipped) and the fields that hold its text."""

    name: str
    path: str
    text_fields: list[str] = field(default_factory=list)  # empty: the first of DEFAULT_TEXT_FIELDS present
    id_field: str | None = None  # None: the first of DEFAULT_ID_FIELDS present, else the line number


def normalize_tokens(text: str) -> list[str]:
    """Return the normalised tokens of ``text`` (NFKC, lowercase, CJK one character each)."""
    return _TOKEN_PATTERN.findall(unicodedata.normalize("NFKC", text).lower())


def ngram_hashes(tokens: list[str], n: int) -> set[int]:
    """Return the 64-bit hashes of every n-gram of ``tokens``."""
    return {
        xxhash.xxh64_intdigest("\x00".join(tokens[i : i + n]).encode("utf-8"))
        for i in range(len(tokens) - n + 1)
    }


def read_benchmark_items(spec: BenchmarkSpec) -> list[tuple[str, str]]:
    """Read ``(item_id, text)`` pairs from a benchmark file."""
    path = Path(spec.path)
    if not path.is_file():
        raise BenchmarkFileError(f"benchmark {spec.name!r}: file not found: {path}")
    opener = gzip.open if path.name.endswith(".gz") else open
    items = []
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise BenchmarkFileError(f"benchmark {spec.name!r}: invalid JSON on line {number} of {path}: {error}") from error
            items.append((_item_id(record, spec, number), _item_text(record, spec, path, number)))
    return items


def _item_text(record: dict, spec: BenchmarkSpec, path: Path, number: int) -> str:
    fields = spec.text_fields or [next((name for name in DEFAULT_TEXT_FIELDS if name in record), "")]
    missing = [name for name in fields if name not in record]
    if missing:
        raise BenchmarkFileError(
            f"benchmark {spec.name!r}: line {number} of {path} has no field {missing[0]!r}; "
            f"its fields are {sorted(record)}. Set text_fields to the fields with the item text"
        )
    return "\n".join(str(record[name]) for name in fields)


def _item_id(record: dict, spec: BenchmarkSpec, number: int) -> str:
    names = [spec.id_field] if spec.id_field else [name for name in DEFAULT_ID_FIELDS if name in record]
    if names and names[0] in record:
        return str(record[names[0]])
    return f"line-{number}"


class BenchmarkIndex:
    """Map from n-gram hash to the benchmark items that contain it."""

    def __init__(self, specs: list[BenchmarkSpec], *, n: int = 13, min_item_tokens: int = 8):
        if n < 1:
            raise ValueError(f"BenchmarkIndex n must be >= 1, got {n!r}")
        self.n = n
        self.min_item_tokens = min_item_tokens
        self.items_per_benchmark: dict[str, int] = {}
        self._items_by_hash: dict[int, list[str]] = defaultdict(list)
        self._short_sizes: set[int] = set()
        for spec in specs:
            items = read_benchmark_items(spec)
            self.items_per_benchmark[spec.name] = len(items)
            for item_id, text in items:
                self._add(f"{spec.name}/{item_id}", normalize_tokens(text))
        logger.info("benchmark index: %d n-grams from %s", len(self._items_by_hash), self.items_per_benchmark)

    def _add(self, key: str, tokens: list[str]) -> None:
        if len(tokens) < self.min_item_tokens:
            return
        if len(tokens) >= self.n:
            hashes = ngram_hashes(tokens, self.n)
        else:
            hashes = ngram_hashes(tokens, len(tokens))
            self._short_sizes.add(len(tokens))
        for value in hashes:
            self._items_by_hash[value].append(key)

    def matches(self, text: str) -> dict[str, int]:
        """Return, per matched item key, the number of distinct n-grams ``text`` shares with it."""
        tokens = normalize_tokens(text)
        hashes = ngram_hashes(tokens, self.n)
        # Items shorter than n are indexed as one gram of their own length.
        for size in self._short_sizes:
            hashes |= ngram_hashes(tokens, size)
        shared: dict[str, int] = defaultdict(int)
        for value in hashes:
            for key in self._items_by_hash.get(value, ()):
                shared[key] += 1
        return dict(shared)


class DecontamStep:
    """Mark kept documents that overlap a benchmark item; add ``decontam_matches``.

    The index is built once per worker in ``__init__`` from the benchmark files.
    """

    def __init__(self, *, benchmarks: list[dict], n: int = 13, min_item_tokens: int = 8,
                 min_matched_ngrams: int = 1, action: str = "drop"):
        if action not in ACTIONS:
            raise ValueError(f"DecontamStep action must be one of {ACTIONS}, got {action!r}")
        self.index = BenchmarkIndex([BenchmarkSpec(**spec) for spec in benchmarks], n=n, min_item_tokens=min_item_tokens)
        self.min_matched_ngrams = min_matched_ngrams
        self.action = action

    def __call__(self, table: pa.Table) -> pa.Table:
        keep = kept_mask(table).to_pylist()
        matches: list[list[str] | None] = []
        for is_kept, text in zip(keep, table.column("text").to_pylist()):
            if not is_kept or text is None:
                matches.append(None)
                continue
            shared = self.index.matches(text)
            matches.append(sorted(key for key, count in shared.items() if count >= self.min_matched_ngrams))
        table = set_column(table, "decontam_matches", pa.array(matches, pa.list_(pa.string())))
        if self.action == "tag":
            return table
        reasons = [DROP_REASON if found else None for found in matches]
        return mark_dropped(table, reasons, step=STEP)


def decontamination_report(rows: list[dict], items_per_benchmark: dict[str, int], action: str) -> dict:
    """Summarise matches per benchmark from rows with ``source`` and ``decontam_matches``.

    Per benchmark: documents that matched it (dropped, unless ``action`` is "tag"), those
    documents per source, and the matched item ids.
    """
    report: dict[str, dict] = {
        name: {"items": count, "documents_matched": 0, "documents_by_source": {}, "items_matched": []}
        for name, count in items_per_benchmark.items()
    }
    for row in rows:
        benchmarks: dict[str, set[str]] = defaultdict(set)
        for key in row["decontam_matches"] or ():
            name, _, item_id = key.partition("/")
            benchmarks[name].add(item_id)
        for name, item_ids in benchmarks.items():
            entry = report[name]
            entry["documents_matched"] += 1
            entry["documents_by_source"][row["source"]] = entry["documents_by_source"].get(row["source"], 0) + 1
            entry["items_matched"] = sorted(set(entry["items_matched"]) | item_ids)
    return {"action": action, "benchmarks": report}


def decontaminate(documents, config):
    """Run :class:`DecontamStep` of a pipeline over a Ray dataset.

    Returns the dataset and the report of :func:`decontamination_report`, or the dataset
    unchanged and None when the pipeline lists no benchmarks. Benchmark paths are resolved
    against the pipeline YAML's folder.
    """
    import dataclasses

    from ray.data import ActorPoolStrategy

    from mimo_data.engine import _collect

    decontam = config.steps.decontam
    if not decontam.benchmarks:
        return documents, None
    kwargs = dataclasses.asdict(decontam)
    for spec in kwargs["benchmarks"]:
        spec["path"] = config.resolve(spec["path"])

    documents = documents.map_batches(
        DecontamStep, fn_constructor_kwargs=kwargs, batch_format="pyarrow", batch_size=64,
        compute=ActorPoolStrategy(min_size=1, max_size=config.ray.max_actors_per_step),
    ).materialize()
    matched = _collect(documents, ["source", "decontam_matches"]).to_pylist()
    items = {spec["name"]: len(read_benchmark_items(BenchmarkSpec(**spec))) for spec in kwargs["benchmarks"]}
    return documents, decontamination_report(matched, items, decontam.action)
