"""Packing invariants on real tokenized text, and the inverse unpacking."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mimo_data.tokenize import PACKED_SCHEMA, PackingError, iter_unpacked, pack_documents, unpack_documents

EOS, PAD = 0, 1


def assert_rows_valid(table: pa.Table, token_lists, seq_len: int) -> None:
    rows = table.to_pylist()
    for row in rows:
        assert len(row["input_ids"]) == seq_len
        assert len(row["loss_mask"]) == seq_len
        assert len(row["segment_ids"]) == seq_len
        assert row["n_tokens"] == sum(row["loss_mask"])

    # Padding only at the end of the last row, carrying pad id, zero mask and segment 0.
    for row in rows[:-1]:
        assert all(mask == 1 for mask in row["loss_mask"])
    last = rows[-1]
    n = last["n_tokens"]
    assert last["loss_mask"] == [1] * n + [0] * (seq_len - n)
    assert last["input_ids"][n:] == [PAD] * (seq_len - n)
    assert last["segment_ids"][n:] == [0] * (seq_len - n)

    assert sum(row["n_tokens"] for row in rows) == sum(len(tokens) + 1 for tokens in token_lists)


def assert_segments_consistent(table: pa.Table) -> None:
    previous_last_token = None
    for row in table.to_pylist():
        real = [s for s in row["segment_ids"] if s != 0]
        assert real[0] == 1
        assert real[-1] == len(row["doc_ids"])
        # Segments are contiguous and step by one, each new one right after an EOS.
        for position in range(1, len(real)):
            step = real[position] - real[position - 1]
            assert step in (0, 1)
            assert (step == 1) == (row["input_ids"][position - 1] == EOS)
        expected_continued = previous_last_token is not None and previous_last_token != EOS
        assert row["first_segment_continued"] == expected_continued
        previous_last_token = row["input_ids"][-1]


@pytest.mark.parametrize("seq_len", [7, 64, 128, 4096])
def test_packing_invariants(documents, seq_len):
    token_lists, doc_ids = documents
    table = pack_documents(token_lists, doc_ids, seq_len=seq_len, eos_id=EOS, pad_id=PAD)

    assert table.schema.equals(PACKED_SCHEMA)
    assert table.num_rows == -(-sum(len(t) + 1 for t in token_lists) // seq_len)
    assert_rows_valid(table, token_lists, seq_len)
    assert_segments_consistent(table)


@pytest.mark.parametrize("seq_len", [7, 128, 4096])
def test_unpack_returns_each_document(documents, seq_len):
    token_lists, doc_ids = documents
    table = pack_documents(token_lists, doc_ids, seq_len=seq_len, eos_id=EOS, pad_id=PAD)

    unpacked = unpack_documents(table, eos_id=EOS)
    assert list(unpacked) == doc_ids
    for doc_id, tokens in zip(doc_ids, token_lists):
        assert unpacked[doc_id] == tokens.tolist(), doc_id


def test_long_document_spans_rows(documents):
    token_lists, doc_ids = documents
    longest = max(range(len(token_lists)), key=lambda i: len(token_lists[i]))
    seq_len = 32
    assert len(token_lists[longest]) > 3 * seq_len  # guard: the case under test really occurs

    table = pack_documents([token_lists[longest]], [doc_ids[longest]], seq_len=seq_len, eos_id=EOS, pad_id=PAD)
    rows = table.to_pylist()
    assert all(row["doc_ids"] == [doc_ids[longest]] for row in rows)
    assert [row["first_segment_continued"] for row in rows] == [False] + [True] * (len(rows) - 1)


def test_exact_fit_has_no_padding():
    table = pack_documents([np.arange(2, 5), np.arange(5, 9)], ["a", "b"], seq_len=9, eos_id=EOS, pad_id=PAD)
    row = table.to_pylist()[0]
    assert table.num_rows == 1
    assert row["input_ids"] == [2, 3, 4, EOS, 5, 6, 7, 8, EOS]
    assert row["segment_ids"] == [1, 1, 1, 1, 2, 2, 2, 2, 2]
    assert row["n_tokens"] == 9


def test_empty_input_gives_empty_table():
    table = pack_documents([], [], seq_len=16, eos_id=EOS, pad_id=PAD)
    assert table.num_rows == 0
    assert table.schema.equals(PACKED_SCHEMA)


@pytest.mark.parametrize(
    "token_lists, doc_ids, seq_len, message",
    [
        ([np.arange(3)], ["a", "b"], 8, "one id per list"),
        ([np.arange(3)], ["a"], 0, "seq_len"),
        ([np.zeros((2, 2), dtype=np.int32)], ["a"], 8, "1-D integer array"),
        ([np.array([1.5, 2.0])], ["a"], 8, "1-D integer array"),
        ([np.array([3, -1])], ["a"], 8, "outside"),
        ([np.arange(3)], [7], 8, "expected str"),
    ],
)
def test_invalid_input_raises(token_lists, doc_ids, seq_len, message):
    with pytest.raises(PackingError, match=message):
        pack_documents(token_lists, doc_ids, seq_len=seq_len, eos_id=EOS, pad_id=PAD)


def test_unpack_rejects_repeated_ids():
    table = pack_documents([np.arange(2, 6), np.arange(2, 6)], ["same", "same"], seq_len=4, eos_id=EOS, pad_id=PAD)
    with pytest.raises(PackingError, match="more than once"):
        unpack_documents(table, eos_id=EOS)
    assert [doc_id for doc_id, _ in iter_unpacked(table, eos_id=EOS)] == ["same", "same"]


def test_unpack_detects_missing_last_row():
    table = pack_documents([np.arange(2, 20)], ["long"], seq_len=8, eos_id=EOS, pad_id=PAD)
    assert table.num_rows == 3
    with pytest.raises(PackingError, match="does not end with EOS"):
        unpack_documents(table.slice(0, 2), eos_id=EOS)


def test_unpack_detects_missing_first_row():
    table = pack_documents([np.arange(2, 20)], ["long"], seq_len=8, eos_id=EOS, pad_id=PAD)
    with pytest.raises(PackingError, match="continues document"):
        unpack_documents(table.slice(1), eos_id=EOS)
