"""Units of per-document work, each committed to its own Parquet file so that a rerun resumes.

A unit is a record range of one input file (see ``mimo_data.io.ranges``): a whole
HTML page or PDF, or up to ``ray.unit_records`` records of a JSONL, Parquet or WARC
file. Its read → extract → annotate output is written to
``OUTPUT/_work/units/<key>.parquet`` under a temporary name, flushed to disk and
renamed into place, so a unit file is either whole or absent.

The key hashes the file's path, size and modification time, the range, and a
fingerprint of the per-document steps. That fingerprint covers their settings, their
model files and the source code of the readers, extractors and annotators. So a
changed input, config or code never reuses a stale unit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mimo_data.document import documents_from_rows, empty_documents, mark_dropped
from mimo_data.steps import UNIT_SCHEMA, AnnotateStep, extract_text, read_spec

logger = logging.getLogger(__name__)

WORK_DIR_NAME = "_work"  # under the output folder: state that lets a rerun resume
UNITS_DIR_NAME = "units"
UNIT_SUFFIX = ".parquet"
TEMP_SUFFIX = ".tmp"

# Documents read, extracted and annotated at a time inside a unit. It bounds the raw
# bytes held at once: 64 web pages of about 100 KB are about 6 MB.
UNIT_BATCH_ROWS = 64

KEY_HEX_CHARS = 32

# The package's sources that a unit's output depends on, as globs under mimo_data/.
UNIT_SOURCES = ("io/**/*.py", "extract/**/*.py", "annotate/**/*.py", "document.py", "steps.py", "units.py")

# Annotation steps built in this worker process, by fingerprint, so the models load once per process.
_annotators: dict[str, AnnotateStep] = {}


def unit_steps(config) -> dict:
    """Return the settings of the per-document steps of a ``PipelineConfig``, as plain data."""
    steps = config.steps
    return {
        "extract": dataclasses.asdict(steps.extract),
        "annotate": {
            "language": dataclasses.asdict(steps.language),
            "heuristics": dataclasses.asdict(steps.heuristics),
            "quality": dataclasses.asdict(steps.quality),
            "domain": dataclasses.asdict(steps.domain),
        },
    }


def steps_fingerprint(steps: dict) -> str:
    """Return a hash of everything that decides a unit's output besides its input bytes.

    ``steps`` is the output of ``unit_steps``. Model files it names are hashed by size and modification time, and the sources that ``UNIT_SOURCES``
    lists by content, so an edited reader, extractor or filter recomputes every unit.
    """
    digest = hashlib.sha256(json.dumps(steps, sort_keys=True, default=str).encode())
    for step in steps["annotate"].values():
        model_path = step.get("model_path") if isinstance(step, dict) else None
        if model_path and os.path.isfile(model_path):
            stat = os.stat(model_path)
            digest.update(f"{model_path}\x00{stat.st_size}\x00{stat.st_mtime_ns}".encode())
    package_dir = Path(__file__).resolve().parent
    for pattern in UNIT_SOURCES:
        for source in sorted(package_dir.glob(pattern)):
            digest.update(source.relative_to(package_dir).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def scan_units(files: pa.Table, *, unit_records: int, fingerprint: str) -> pa.Table:
    """Cut each input file of the batch into units; one row per unit with the columns of ``UNIT_SCHEMA``."""
    from mimo_data.io.ranges import scan_ranges

    rows = []
    for spec in files.to_pylist():
        try:
            stat = os.stat(spec["path"])
            identity = f"{spec['path']}\x00{stat.st_size}\x00{stat.st_mtime_ns}"
        except OSError as error:
            identity = f"{spec['path']}\x00unreadable: {error}"  # the reader drops it with file_unreadable
        for record_range in scan_ranges(spec["format"], spec["path"], unit_records):
            unit = {**spec, **dataclasses.asdict(record_range)}
            fields = [identity, json.dumps(unit, sort_keys=True), fingerprint]
            unit["key"] = hashlib.sha256("\x00".join(fields).encode()).hexdigest()[:KEY_HEX_CHARS]
            rows.append(unit)
    return pa.Table.from_pylist(rows, schema=UNIT_SCHEMA)


def unit_path(units_dir: str | os.PathLike, key: str) -> Path:
    """Return the committed output file of the unit ``key``."""
    return Path(units_dir) / f"{key}{UNIT_SUFFIX}"


def commit_units(units: pa.Table, *, units_dir: str, steps: dict, fingerprint: str) -> pa.Table:
    """Compute and commit every unit of the batch that has no committed file yet.

    Returns one ``(key, documents, computed)`` row per unit. ``computed`` is false for
    a unit that an earlier attempt of this task committed before it died.
    """
    keys, counts, computed = [], [], []
    for spec in units.to_pylist():
        path = unit_path(units_dir, spec["key"])
        if path.exists():
            rows, was_computed = pq.read_metadata(path).num_rows, False
        else:
            table = annotate_unit(spec, steps, fingerprint)
            write_atomically(table, path)
            rows, was_computed = table.num_rows, True
        keys.append(spec["key"])
        counts.append(rows)
        computed.append(was_computed)
    return pa.table({"key": keys, "documents": pa.array(counts, pa.int64()), "computed": computed})


def annotate_unit(spec: dict, steps: dict, fingerprint: str) -> pa.Table:
    """Read, extract and annotate the documents of one unit; every row read is kept, drops are marked.

    ``steps`` is the output of ``unit_steps`` and ``fingerprint`` its ``steps_fingerprint``.
    """
    annotator = _annotator(steps["annotate"], fingerprint)
    oversized = _oversized_file(spec, steps["extract"])
    if oversized is not None:
        return _annotate_batch(oversized, steps["extract"], annotator)
    rows = read_spec(spec)
    tables = []
    while chunk := list(itertools.islice(rows, UNIT_BATCH_ROWS)):
        tables.append(_annotate_batch(documents_from_rows(chunk), steps["extract"], annotator))
    if not tables:  # a file without records, such as a JSONL file of blank lines
        tables.append(_annotate_batch(empty_documents(), steps["extract"], annotator))
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def _oversized_file(spec: dict, limits: dict) -> pa.Table | None:
    """Return a ``too_large`` extract drop for a whole HTML or PDF file over its size limit, without reading it.

    The extract step checks the same limit on the bytes, which also covers
    gzipped pages that only grow past it once decompressed.
    """
    from mimo_data.io.common import document_row

    if spec.get("start") is not None or spec["format"] not in ("html", "pdf"):
        return None
    max_bytes = limits["pdf_max_bytes"] if spec["format"] == "pdf" else limits["html_max_bytes"]
    try:
        size = os.path.getsize(spec["path"])
    except OSError:
        return None  # the reader reports the unreadable file with its reason
    if size <= max_bytes:
        return None

    logger.warning("dropping %s: too_large (%d bytes on disk, limit %d)", spec["path"], size, max_bytes)
    row = document_row(source=spec["source"], fmt=spec["format"], locator=spec["path"], domain=spec["domain"])
    return mark_dropped(documents_from_rows([row]), ["too_large"], step="extract")


def _annotate_batch(documents: pa.Table, limits: dict, annotator: AnnotateStep) -> pa.Table:
    documents = extract_text(documents, limits=limits).drop_columns(["content"])
    return annotator(documents)


def _annotator(annotate: dict, fingerprint: str) -> AnnotateStep:
    if fingerprint not in _annotators:
        _annotators.clear()
        _annotators[fingerprint] = AnnotateStep(**annotate)
    return _annotators[fingerprint]


def write_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` so that ``path`` is either absent or whole, even after a crash."""
    temp_path = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
    pq.write_table(table, temp_path, compression="zstd")
    with open(temp_path, "rb") as stream:
        os.fsync(stream.fileno())
    os.replace(temp_path, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def load_units(units: pa.Table, *, units_dir: str) -> pa.Table:
    """Read the committed documents of the batch's units, in the batch's order."""
    tables = [pq.read_table(unit_path(units_dir, key)) for key in units.column("key").to_pylist()]
    return pa.concat_tables(tables, promote_options="permissive")


def prepare_units_dir(units_dir: Path, *, resume: bool) -> None:
    """Create the units folder; remove temporary files of killed writers, and every unit unless ``resume``."""
    units_dir.mkdir(parents=True, exist_ok=True)
    remove_temp_files(units_dir)
    if not resume:
        for old in units_dir.glob(f"*{UNIT_SUFFIX}"):
            old.unlink()


def remove_temp_files(units_dir: Path) -> int:
    """Remove the temporary files of unit writers that died before renaming them into place.

    Call it only while no unit task runs, because a running writer's file looks the same.
    """
    removed = 0
    for temp_file in units_dir.glob(f".*{TEMP_SUFFIX}"):
        temp_file.unlink(missing_ok=True)
        removed += 1
    return removed


def remove_other_units(units_dir: Path, keys: set[str]) -> int:
    """Remove unit files whose key is not in ``keys``: outputs of older inputs, configs or code."""
    removed = 0
    for path in units_dir.glob(f"*{UNIT_SUFFIX}"):
        if path.name[: -len(UNIT_SUFFIX)] not in keys:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
