"""Write packed rows as numbered Parquet shards plus a manifest.json per stage folder.

A stage folder contains ``part-00000.parquet``, ``part-00001.parquet`` ... and
``manifest.json``. Every file is written under a ``.tmp`` name and renamed into place,
so a reader sees either the whole file or none of it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

SHARD_PATTERN = "part-*.parquet"
MANIFEST_NAME = "manifest.json"
COMPRESSION = "zstd"
# Only these columns get dictionary encoding and min/max statistics. On the qwen2 shards of
# benchmarks/shards.py, dictionary encoding of the token columns took about a quarter of the
# write time and made the files 19% larger (2.41 MB against 2.02 MB). Min/max of token ids
# spans nearly the whole vocabulary in every row group, so it lets a reader skip nothing.
DICTIONARY_COLUMNS = ("doc_ids",)
STATISTICS_COLUMNS = ("doc_ids", "n_tokens", "first_segment_continued")
# Uncompressed bytes per Parquet row group: a few MB lets a reader fetch one group at a time.
ROW_GROUP_BYTES = 4 * 1024 * 1024


class ShardError(RuntimeError):
    """A stage folder or the tables written to it are not in the expected state."""


class ManifestError(ValueError):
    """A manifest is missing, is not a JSON object, or cannot be encoded as JSON."""


class ShardWriter:
    """Split a stream of tables into Parquet shards of ``rows_per_shard`` rows each.

    The last shard contains the remaining rows and may be smaller. Every table passed to
    ``write`` must have the schema of the first one. Usable as a context manager, which
    calls ``close`` on a clean exit.
    """

    def __init__(self, out_dir: str | os.PathLike, rows_per_shard: int, *, overwrite: bool = False):
        if rows_per_shard < 1:
            raise ShardError(f"rows_per_shard must be at least 1, got {rows_per_shard}")
        self.out_dir = Path(out_dir)
        self.rows_per_shard = rows_per_shard
        self.out_dir.mkdir(parents=True, exist_ok=True)

        stale = sorted(self.out_dir.glob(SHARD_PATTERN))
        if stale and not overwrite:
            raise ShardError(
                f"{self.out_dir} already contains {len(stale)} shards ({stale[0].name} ...); "
                "choose an empty folder or pass overwrite=True"
            )
        for path in stale:
            path.unlink()

        self._schema: pa.Schema | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._paths: list[Path] = []
        self._closed = False

    def write(self, table: pa.Table) -> None:
        """Buffer ``table`` and write every full shard that the buffer now contains."""
        if self._closed:
            raise ShardError(f"ShardWriter for {self.out_dir} is closed")
        if self._schema is None:
            self._schema = table.schema
        elif not table.schema.equals(self._schema):
            raise ShardError(f"table schema differs from the first table's:\n{table.schema}\nexpected:\n{self._schema}")

        self._pending.append(table)
        self._pending_rows += table.num_rows
        while self._pending_rows >= self.rows_per_shard:
            buffered = pa.concat_tables(self._pending)
            self._write_shard(buffered.slice(0, self.rows_per_shard))
            rest = buffered.slice(self.rows_per_shard)
            self._pending, self._pending_rows = [rest], rest.num_rows

    def close(self) -> list[Path]:
        """Write the remaining rows as a last shard and return every shard path in order."""
        if not self._closed:
            if self._pending_rows:
                self._write_shard(pa.concat_tables(self._pending))
            self._pending, self._pending_rows = [], 0
            self._closed = True
        return list(self._paths)

    def _write_shard(self, table: pa.Table) -> None:
        path = self.out_dir / f"part-{len(self._paths):05d}.parquet"
        tmp_path = path.with_name(path.name + ".tmp")
        pq.write_table(
            table,
            tmp_path,
            compression=COMPRESSION,
            row_group_size=_row_group_rows(table),
            use_dictionary=_leaf_paths(table.schema, DICTIONARY_COLUMNS),
            write_statistics=_leaf_paths(table.schema, STATISTICS_COLUMNS),
        )
        os.replace(tmp_path, path)
        self._paths.append(path)
        logger.debug("wrote %s with %d rows", path, table.num_rows)

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        # On an error the partial last shard is not written, so the folder never looks complete.
        if exc_type is None:
            self.close()


def _leaf_paths(schema: pa.Schema, names: tuple[str, ...]) -> list[str]:
    """Return the Parquet leaf column paths of the fields ``names`` that ``schema`` contains.

    pyarrow matches ``use_dictionary`` and ``write_statistics`` against leaf paths and
    silently ignores a name that is not one, so a list field must be named by its element.
    The ``list.element`` form is the Parquet LIST layout that pyarrow writes by default
    (``use_compliant_nested_type=True``).
    """
    paths = []
    for field in schema:
        if field.name not in names:
            continue
        is_list = pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
        paths.append(f"{field.name}.list.element" if is_list else field.name)
    return paths


def _row_group_rows(table: pa.Table) -> int:
    """Rows per row group so that a group contains about ROW_GROUP_BYTES of uncompressed data."""
    if table.num_rows == 0:
        return 1
    bytes_per_row = max(1, table.nbytes // table.num_rows)
    return max(1, ROW_GROUP_BYTES // bytes_per_row)


def write_manifest(stage_dir: str | os.PathLike, manifest: dict) -> Path:
    """Write ``manifest`` as ``stage_dir/manifest.json`` with sorted keys and indent 2."""
    if not isinstance(manifest, dict):
        raise ManifestError(f"manifest must be a dict, got {type(manifest).__name__}")
    try:
        text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ManifestError(f"manifest cannot be encoded as JSON: {error}") from error

    path = Path(stage_dir) / MANIFEST_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(path.name + ".tmp")
    tmp_path.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp_path, path)
    return path


def read_manifest(stage_dir: str | os.PathLike) -> dict:
    """Read ``stage_dir/manifest.json``, raising ``ManifestError`` when it is missing or invalid."""
    path = Path(stage_dir) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ManifestError(f"no manifest at {path}; write one with write_manifest") from error
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"manifest {path} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict):
        raise ManifestError(f"manifest {path} is a JSON {type(manifest).__name__}, expected a JSON object")
    return manifest


def shard_paths(stage_dir: str | os.PathLike) -> list[Path]:
    """Return the stage's shard paths in shard order, raising ``ShardError`` when there are none."""
    paths = sorted(Path(stage_dir).glob(SHARD_PATTERN))
    if not paths:
        raise ShardError(f"no {SHARD_PATTERN} files in {stage_dir}")
    return paths


def open_stage(stage_dir: str | os.PathLike) -> ds.Dataset:
    """Open the stage's shards as one pyarrow dataset whose fragments are in shard order."""
    return ds.dataset([str(path) for path in shard_paths(stage_dir)], format="parquet")
