"""TokenizeStep: the token_ids and token_count columns it adds to a batch of documents."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mimo_data.document import documents_from_rows
from mimo_data.steps import TokenizeStep


def document_batch(texts_and_reasons: list[tuple[str | None, str | None]]) -> pa.Table:
    rows = [
        {"id": f"d{index}", "source": "test", "format": "jsonl", "text": text, "drop_reason": reason,
         "drop_step": None if reason is None else "filter"}
        for index, (text, reason) in enumerate(texts_and_reasons)
    ]
    return documents_from_rows(rows)


@pytest.mark.parametrize("tokenizer", ["qwen2", "mimo-bpe-16k"])
def test_tokenize_step_columns_match_encode_batch(tokenizer):
    batch = document_batch([
        ("Hello world", None),
        ("dropped before tokenizing", "too_short"),
        ("", None),
        ("Le café coûte 3 € <|endoftext|>", None),
        (None, "extraction_failed"),
        ("x = 1\n" * 50, None),
    ])
    step = TokenizeStep(tokenizer=tokenizer)
    out = step(batch)

    kept_texts = {0: "Hello world", 3: "Le café coûte 3 € <|endoftext|>", 5: "x = 1\n" * 50}
    expected = dict(zip(kept_texts, step.tokenizer.encode_batch(list(kept_texts.values()))))
    assert out.schema.field("token_ids").type == pa.list_(pa.int32())
    assert out.schema.field("token_count").type == pa.int32()
    token_ids = out.column("token_ids").to_pylist()
    token_counts = out.column("token_count").to_pylist()
    for row, ids in expected.items():
        assert len(ids) > 1  # guard: a real comparison, not two empty lists
        assert token_ids[row] == ids.tolist(), row
        assert token_counts[row] == len(ids), row
    for dropped_row in (1, 4):
        assert token_ids[dropped_row] is None, dropped_row
        assert token_counts[dropped_row] is None, dropped_row
    assert token_ids[2] == []
    assert token_counts[2] == 0


def test_tokenize_step_drops_documents_without_tokens():
    batch = document_batch([("", None), ("kept", None), ("", "too_short")])
    out = TokenizeStep(tokenizer="qwen2")(batch)
    assert out.column("drop_reason").to_pylist() == ["no_tokens", None, "too_short"]
    assert out.column("drop_step").to_pylist() == ["tokenize", None, "filter"]


def test_tokenize_step_all_rows_dropped():
    batch = document_batch([("a", "too_short"), ("b", "duplicate")])
    out = TokenizeStep(tokenizer="qwen2")(batch)
    assert out.column("token_ids").to_pylist() == [None, None]
    assert out.column("token_count").to_pylist() == [None, None]
    assert out.column("drop_reason").to_pylist() == ["too_short", "duplicate"]
