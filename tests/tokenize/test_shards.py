"""Shard writing, manifests and reading a stage back with plain pyarrow."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mimo_data.tokenize import (
    ManifestError,
    ShardError,
    ShardWriter,
    open_stage,
    pack_documents,
    read_manifest,
    write_manifest,
)


@pytest.fixture
def packed() -> pa.Table:
    rng = np.random.default_rng(0)
    token_lists = [rng.integers(2, 500, size=rng.integers(0, 60)).astype(np.int32) for _ in range(40)]
    table = pack_documents(token_lists, [f"d{i}" for i in range(40)], seq_len=16, eos_id=0, pad_id=1)
    assert table.num_rows > 20  # guard: enough rows for several shards
    return table


def test_shards_split_and_read_back(tmp_path, packed):
    writer = ShardWriter(tmp_path / "stage-1", rows_per_shard=8)
    # Uneven pieces, so shard boundaries fall inside written tables.
    for start, stop in [(0, 3), (3, 13), (13, 14), (14, packed.num_rows)]:
        writer.write(packed.slice(start, stop - start))
    paths = writer.close()

    assert [path.name for path in paths] == [f"part-{i:05d}.parquet" for i in range(len(paths))]
    assert len(paths) == -(-packed.num_rows // 8)
    tables = [pq.read_table(path) for path in paths]
    assert [t.num_rows for t in tables[:-1]] == [8] * (len(paths) - 1)
    assert pa.concat_tables(tables).equals(packed)
    assert list((tmp_path / "stage-1").glob("*.tmp")) == []


def test_shards_use_zstd(tmp_path, packed):
    with ShardWriter(tmp_path, rows_per_shard=100) as writer:
        writer.write(packed)
    metadata = pq.ParquetFile(tmp_path / "part-00000.parquet").metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_open_stage_keeps_row_order(tmp_path, packed):
    with ShardWriter(tmp_path, rows_per_shard=5) as writer:
        writer.write(packed)
    dataset = open_stage(tmp_path)
    assert dataset.count_rows() == packed.num_rows
    assert dataset.to_table().equals(packed)


def test_open_stage_without_shards_raises(tmp_path):
    with pytest.raises(ShardError, match="no part"):
        open_stage(tmp_path)


def test_writer_rejects_existing_shards(tmp_path, packed):
    with ShardWriter(tmp_path, rows_per_shard=4) as writer:
        writer.write(packed)
    with pytest.raises(ShardError, match="already contains"):
        ShardWriter(tmp_path, rows_per_shard=4)

    with ShardWriter(tmp_path, rows_per_shard=1000, overwrite=True) as writer:
        writer.write(packed.slice(0, 2))
    assert [p.name for p in tmp_path.glob("part-*.parquet")] == ["part-00000.parquet"]


def test_writer_rejects_other_schema(tmp_path, packed):
    writer = ShardWriter(tmp_path, rows_per_shard=4)
    writer.write(packed)
    with pytest.raises(ShardError, match="schema differs"):
        writer.write(pa.table({"x": [1, 2]}))


def test_writer_rejects_write_after_close(tmp_path, packed):
    writer = ShardWriter(tmp_path, rows_per_shard=4)
    writer.close()
    with pytest.raises(ShardError, match="closed"):
        writer.write(packed)


def test_manifest_round_trip(tmp_path):
    manifest = {
        "tokenizer": {"name": "mimo-bpe-16k", "vocab_size": 16384, "eos_id": 0, "pad_id": 1},
        "seq_len": 16,
        "stage": "stage-1",
        "sources": {"web": {"documents": 3, "tokens": 120}, "数学": {"documents": 1, "tokens": 40}},
    }
    path = write_manifest(tmp_path, manifest)
    text = path.read_text(encoding="utf-8")

    assert read_manifest(tmp_path) == manifest
    assert text == json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert list(tmp_path.glob("*.tmp")) == []


def test_manifest_rejects_unencodable_values(tmp_path):
    with pytest.raises(ManifestError, match="cannot be encoded"):
        write_manifest(tmp_path, {"tokens": float("nan")})
    with pytest.raises(ManifestError, match="cannot be encoded"):
        write_manifest(tmp_path, {"path": tmp_path})
    assert not (tmp_path / "manifest.json").exists()


def test_read_manifest_errors(tmp_path):
    with pytest.raises(ManifestError, match="no manifest"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ManifestError, match="expected a JSON object"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ManifestError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_shards_dictionary_and_statistics_columns(tmp_path, packed):
    with ShardWriter(tmp_path, rows_per_shard=100) as writer:
        writer.write(packed)
    row_group = pq.ParquetFile(tmp_path / "part-00000.parquet").metadata.row_group(0)
    columns = {row_group.column(i).path_in_schema.split(".")[0]: row_group.column(i) for i in range(row_group.num_columns)}
    assert set(columns) == set(packed.column_names)  # guard: every column is checked below

    for name in ("input_ids", "loss_mask", "segment_ids"):
        assert not any("DICTIONARY" in encoding for encoding in columns[name].encodings), name
        assert not columns[name].is_stats_set, name
    assert any("DICTIONARY" in encoding for encoding in columns["doc_ids"].encodings)
    for name in ("doc_ids", "n_tokens", "first_segment_continued"):
        assert columns[name].is_stats_set, name
