"""A small stage of packed Shakespeare shards, built once with the real tokenizer."""

from __future__ import annotations

import pytest

from mimo_data.tokenize import ShardWriter, load_tokenizer, pack_documents, write_manifest

STAGE_SEQ_LEN = 128
STAGE_TEXT_CHARS = 300_000  # about 84k tokens, 676 rows of 128 tokens


@pytest.fixture(scope="session")
def shakespeare_stage(shared_dir, tmp_path_factory):
    """A stage folder with shards and a manifest; each speech is one document."""
    text = (shared_dir / "text" / "tinyshakespeare_input.txt").read_text(encoding="utf-8")[:STAGE_TEXT_CHARS]
    speeches = [speech for speech in text.split("\n\n") if speech.strip()]

    tokenizer = load_tokenizer()
    token_lists = tokenizer.encode_batch(speeches)
    doc_ids = [f"shakespeare-{index:05d}" for index in range(len(speeches))]
    table = pack_documents(token_lists, doc_ids, seq_len=STAGE_SEQ_LEN, eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id)

    stage_dir = tmp_path_factory.mktemp("stage-1")
    with ShardWriter(stage_dir, rows_per_shard=200) as writer:
        writer.write(table)
    write_manifest(stage_dir, {"tokenizer": tokenizer.manifest_entry(), "seq_len": STAGE_SEQ_LEN})
    return stage_dir
