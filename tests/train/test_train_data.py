"""Reading packed shards as shifted next-token batches."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from mimo_data.tokenize import ShardWriter, pack_documents
from mimo_data.train.data import StageDataError, StageReader, load_stage_rows, make_batch, stage_vocab_size
from mimo_data.train.mtp import IGNORE_INDEX


def test_make_batch_shifts_and_ignores_padding():
    input_ids = np.array([[5, 6, 0, 7, 0, 1, 1]], dtype=np.int32)
    loss_mask = np.array([[1, 1, 1, 1, 1, 0, 0]], dtype=np.int8)
    segment_ids = np.array([[1, 1, 1, 2, 2, 0, 0]], dtype=np.int32)
    batch = make_batch(input_ids, loss_mask, segment_ids)

    assert batch.input_ids.tolist() == [[5, 6, 0, 7, 0, 1]]
    assert batch.targets.tolist() == [[6, 0, 7, 0, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch.loss_mask.tolist() == [[1, 1, 1, 1, 0, 0]]
    assert batch.segment_ids.tolist() == [[1, 1, 1, 2, 2, 0]]
    assert batch.input_ids.dtype == torch.int64


def test_stage_rows_and_vocab_from_manifest(shakespeare_stage):
    rows = load_stage_rows(shakespeare_stage)
    assert rows["input_ids"].shape[1] == 128
    assert rows["input_ids"].shape == rows["loss_mask"].shape == rows["segment_ids"].shape
    assert stage_vocab_size(shakespeare_stage, rows) == 16384


def test_stage_rows_cropped(shakespeare_stage):
    rows = load_stage_rows(shakespeare_stage, seq_len=32)
    assert rows["input_ids"].shape[1] == 32
    with pytest.raises(StageDataError, match="seq_len 256"):
        load_stage_rows(shakespeare_stage, seq_len=256)


def test_vocab_without_manifest_is_max_id_plus_one(tmp_path):
    table = pack_documents([np.array([3, 9, 41])], ["only"], seq_len=4, eos_id=0, pad_id=1)
    with ShardWriter(tmp_path, rows_per_shard=10) as writer:
        writer.write(table)
    rows = load_stage_rows(tmp_path)
    assert stage_vocab_size(tmp_path, rows) == 42


def test_reader_covers_rows_each_epoch(shakespeare_stage, tmp_path):
    stage = tmp_path / "stage"
    shutil.copytree(shakespeare_stage, stage)
    rows = load_stage_rows(stage)
    rows = {name: values[:20] for name, values in rows.items()}

    reader = StageReader(rows, batch_size=6, seed=3)
    first_epoch = [reader.next_batch() for _ in range(3)]  # 20 rows: three full batches, two rows skipped
    seen = {tuple(row.tolist()) for batch in first_epoch for row in batch.input_ids}
    assert len(seen) == 18
    assert all(batch.input_ids.shape == (6, 127) for batch in first_epoch)
    assert reader.state_dict()["epoch"] == 0

    reader.next_batch()
    assert reader.state_dict()["epoch"] == 1
    assert reader.state_dict()["cursor"] == 6


def test_reader_resumes_at_saved_position(shakespeare_stage):
    rows = load_stage_rows(shakespeare_stage, seq_len=16)
    reader = StageReader(rows, batch_size=100, seed=5)
    for _ in range(8):  # 676 rows: six batches per epoch, so this crosses into epoch 1
        reader.next_batch()
    state = reader.state_dict()
    expected = [reader.next_batch().input_ids for _ in range(3)]

    resumed = StageReader(rows, batch_size=100, seed=5)
    resumed.load_state_dict(state)
    assert state["epoch"] == 1
    for want in expected:
        assert torch.equal(resumed.next_batch().input_ids, want)


def test_reader_rejects_position_of_other_seed(shakespeare_stage):
    rows = load_stage_rows(shakespeare_stage, seq_len=16)
    state = StageReader(rows, batch_size=4, seed=1).state_dict()
    with pytest.raises(StageDataError, match="same shards and seed"):
        StageReader(rows, batch_size=4, seed=2).load_state_dict(state)


def test_batch_size_above_rows_raises(shakespeare_stage):
    rows = load_stage_rows(shakespeare_stage)
    with pytest.raises(StageDataError, match="fewer than batch_size"):
        StageReader(rows, batch_size=len(rows["input_ids"]) + 1)
