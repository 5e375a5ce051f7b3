"""Best-fit packing: row contract, round trips, documents kept whole, and the packing option."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mimo_data.config import ConfigError, parse_pipeline
from mimo_data.tokenize import PACKED_SCHEMA, PackingError, iter_unpacked, load_tokenizer, pack_documents
from mimo_data.tokenize.best_fit import pack_documents_best_fit
from mimo_data.tokenize.packing import packing_function

EOS, PAD = 0, 1


def rows_spanned(table: pa.Table) -> dict[str, int]:
    """Rows each document id appears in (ids are unique in these tests)."""
    counts: dict[str, int] = {}
    for row_doc_ids in table.column("doc_ids").to_pylist():
        for doc_id in row_doc_ids:
            counts[doc_id] = counts.get(doc_id, 0) + 1
    return counts


def next_fit_rows(lengths: list[int], seq_len: int) -> int:
    """Rows used by placing whole documents in input order, opening a new row when one is full."""
    rows, room = 0, 0
    for length in lengths:
        if length > room:
            rows, room = rows + 1, seq_len
        room -= length
    return rows


def assert_rows_valid(table: pa.Table, seq_len: int) -> None:
    for row in table.to_pylist():
        assert len(row["input_ids"]) == len(row["loss_mask"]) == len(row["segment_ids"]) == seq_len
        assert row["loss_mask"] == [1 if segment else 0 for segment in row["segment_ids"]]
        assert row["n_tokens"] == sum(row["loss_mask"])
        assert [token for token, mask in zip(row["input_ids"], row["loss_mask"]) if not mask] == [PAD] * (seq_len - row["n_tokens"])

        # Real tokens come first, in segments 1, 2, ... that each end with EOS, except
        # a segment that fills the row to its end (a document continuing in the next row).
        real = row["segment_ids"][: row["n_tokens"]]
        assert 0 not in real
        assert sorted(set(real)) == list(range(1, len(row["doc_ids"]) + 1))
        assert real == sorted(real)
        for position in range(1, len(real)):
            if real[position] != real[position - 1]:
                assert row["input_ids"][position - 1] == EOS


@pytest.mark.parametrize("seq_len", [7, 64, 128, 4096])
def test_best_fit_round_trip(documents, seq_len):
    token_lists, doc_ids = documents
    table = pack_documents_best_fit(token_lists, doc_ids, seq_len=seq_len, eos_id=EOS, pad_id=PAD)

    assert table.schema.equals(PACKED_SCHEMA)
    assert_rows_valid(table, seq_len)
    unpacked = list(iter_unpacked(table, eos_id=EOS))
    assert sorted(doc_id for doc_id, _ in unpacked) == doc_ids
    expected = dict(zip(doc_ids, token_lists))
    for doc_id, tokens in unpacked:
        assert tokens == expected[doc_id].tolist(), doc_id


def test_best_fit_rows_decode_to_texts(shared_dir):
    tokenizer = load_tokenizer("qwen2")
    play = (shared_dir / "text" / "tinyshakespeare_input.txt").read_text(encoding="utf-8")[:30_000]
    texts = [part for part in play.split("\n\n") if part.strip()][:80]
    token_lists = tokenizer.encode_batch(texts)
    doc_ids = [f"scene-{index:03d}" for index in range(len(texts))]
    table = pack_documents_best_fit(token_lists, doc_ids, seq_len=97, eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id)

    decoded = {doc_id: tokenizer.decode(tokens) for doc_id, tokens in iter_unpacked(table, tokenizer.eos_id)}
    assert decoded == dict(zip(doc_ids, texts))


@pytest.mark.parametrize("seq_len", [64, 128, 1024])
def test_only_documents_longer_than_a_row_are_split(documents, seq_len):
    token_lists, doc_ids = documents
    long_docs = {doc_id for doc_id, tokens in zip(doc_ids, token_lists) if len(tokens) + 1 > seq_len}
    assert long_docs  # guard: every length here has documents longer than a row

    best_fit = rows_spanned(pack_documents_best_fit(token_lists, doc_ids, seq_len=seq_len, eos_id=EOS, pad_id=PAD))
    greedy = rows_spanned(pack_documents(token_lists, doc_ids, seq_len=seq_len, eos_id=EOS, pad_id=PAD))
    assert {doc_id for doc_id, rows in best_fit.items() if rows > 1} == long_docs
    assert sum(rows > 1 for rows in greedy.values()) > len(long_docs)


def test_crafted_set_packs_without_padding_or_splits():
    # Lengths with EOS: 6+4, 7+3, 5+5, 8+2 fill four rows of 10 exactly, in no input order.
    lengths = [5, 6, 4, 7, 3, 1, 2, 4]
    token_lists = [np.full(length, 2 + index, dtype=np.int32) for index, length in enumerate(lengths)]
    doc_ids = [f"d{index}" for index in range(len(lengths))]
    seq_len = 10

    best_fit = pack_documents_best_fit(token_lists, doc_ids, seq_len=seq_len, eos_id=EOS, pad_id=PAD)
    greedy = pack_documents(token_lists, doc_ids, seq_len=seq_len, eos_id=EOS, pad_id=PAD)
    padding = {name: table.num_rows * seq_len - sum(table.column("n_tokens").to_pylist())
               for name, table in (("best_fit", best_fit), ("greedy", greedy))}

    assert padding["best_fit"] == padding["greedy"] == 0
    assert max(rows_spanned(best_fit).values()) == 1
    assert max(rows_spanned(greedy).values()) == 2  # greedy reaches no padding by splitting documents
    assert next_fit_rows([length + 1 for length in lengths], seq_len) > best_fit.num_rows


def test_best_fit_beats_next_fit(documents):
    token_lists, doc_ids = documents
    seq_len = 512
    table = pack_documents_best_fit(token_lists, doc_ids, seq_len=seq_len, eos_id=EOS, pad_id=PAD)
    short = [len(tokens) + 1 for tokens in token_lists if len(tokens) + 1 <= seq_len]
    long_rows = sum(-(-(len(tokens) + 1) // seq_len) for tokens in token_lists if len(tokens) + 1 > seq_len)
    # Next fit on the whole documents, plus the rows of the long ones, is an upper bound best-fit must beat.
    assert table.num_rows < next_fit_rows(short, seq_len) + long_rows


def test_document_filling_whole_rows_has_no_tail():
    token_lists = [np.arange(2, 9), np.arange(2, 4)]  # 7 + EOS = two rows of 4, then 2 + EOS
    table = pack_documents_best_fit(token_lists, ["long", "short"], seq_len=4, eos_id=EOS, pad_id=PAD)
    rows = table.to_pylist()
    assert [row["doc_ids"] for row in rows] == [["long"], ["long"], ["short"]]
    assert [row["first_segment_continued"] for row in rows] == [False, True, False]
    assert rows[1]["input_ids"] == [6, 7, 8, EOS]


def test_tails_open_separate_rows():
    # Both tails (3 tokens each) would fit one row of 8 together, but a row takes one tail.
    token_lists = [np.arange(2, 12), np.arange(20, 30)]
    table = pack_documents_best_fit(token_lists, ["a", "b"], seq_len=8, eos_id=EOS, pad_id=PAD)
    rows = table.to_pylist()
    assert [row["doc_ids"] for row in rows] == [["a"], ["a"], ["b"], ["b"]]
    assert [row["first_segment_continued"] for row in rows] == [False, True, False, True]
    assert dict(iter_unpacked(table, eos_id=EOS)) == {"a": list(range(2, 12)), "b": list(range(20, 30))}


def test_whole_documents_join_a_tail_row():
    token_lists = [np.arange(2, 12), np.arange(40, 43)]  # tail of 3 tokens, then a 4-token document
    table = pack_documents_best_fit(token_lists, ["long", "short"], seq_len=8, eos_id=EOS, pad_id=PAD)
    rows = table.to_pylist()
    assert table.num_rows == 2
    assert rows[1]["doc_ids"] == ["long", "short"]
    assert rows[1]["input_ids"] == [10, 11, EOS, 40, 41, 42, EOS, PAD]
    assert rows[1]["segment_ids"] == [1, 1, 1, 2, 2, 2, 2, 0]


def test_best_fit_deterministic_block_order(documents):
    token_lists, doc_ids = documents
    first = pack_documents_best_fit(token_lists, doc_ids, seq_len=128, eos_id=EOS, pad_id=PAD)
    assert first.equals(pack_documents_best_fit(token_lists, doc_ids, seq_len=128, eos_id=EOS, pad_id=PAD))

    # Blocks come in the order of their earliest document, so the first document's row comes
    # first. Only the full rows of a tail that shares that row may come before it.
    for table, first_id in ((first, doc_ids[0]), (pack_documents_best_fit(token_lists[::-1], doc_ids[::-1], seq_len=128,
                                                                          eos_id=EOS, pad_id=PAD), doc_ids[-1])):
        rows = table.to_pylist()
        index = next(i for i, row in enumerate(rows) if first_id in row["doc_ids"])
        assert all(row["doc_ids"] == [rows[index]["doc_ids"][0]] for row in rows[:index])
        assert rows[index]["first_segment_continued"] == (index > 0)


def test_best_fit_empty_and_invalid_input():
    assert pack_documents_best_fit([], [], seq_len=8, eos_id=EOS, pad_id=PAD).num_rows == 0
    with pytest.raises(PackingError, match="one id per list"):
        pack_documents_best_fit([np.arange(3)], ["a", "b"], seq_len=8, eos_id=EOS, pad_id=PAD)


def test_packing_function_names():
    assert packing_function("greedy") is pack_documents
    assert packing_function("best_fit") is pack_documents_best_fit
    with pytest.raises(PackingError, match="allowed: greedy, best_fit"):
        packing_function("first_fit")


def pipeline_with_packing(pipeline_packing, stage_packing=None) -> dict:
    stage = {"name": "stage-1", "seq_len": 64, "tokens_target": 1000, "weights": {"web": 1.0}}
    if stage_packing is not None:
        stage["packing"] = stage_packing
    raw = {"name": "packing-test", "sources": [{"name": "pages", "format": "html", "path": "unused"}], "stages": [stage]}
    if pipeline_packing is not None:
        raw["packing"] = pipeline_packing
    return raw


def test_packing_option_in_pipeline_and_stage():
    assert parse_pipeline(pipeline_with_packing(None)).packing == "greedy"
    config = parse_pipeline(pipeline_with_packing("best_fit", "greedy"))
    assert (config.packing, config.stages[0].packing) == ("best_fit", "greedy")
    assert parse_pipeline(pipeline_with_packing("best_fit")).stages[0].packing is None

    with pytest.raises(ConfigError, match=r"pipeline\.packing: unknown packing method 'tight'"):
        parse_pipeline(pipeline_with_packing("tight"))
    with pytest.raises(ConfigError, match=r"pipeline\.stages\[0\]\.packing: unknown packing method"):
        parse_pipeline(pipeline_with_packing("greedy", "tight"))
