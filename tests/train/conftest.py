"""Small stages of packed Shakespeare shards, built once with the real tokenizer."""

from __future__ import annotations

import pytest
import torch

from mimo_data.tokenize import ShardWriter, load_tokenizer, pack_documents, write_manifest

STAGE_SEQ_LEN = 128
SHORT_STAGE_SEQ_LEN = 64
STAGE_TEXT_CHARS = 300_000  # about 84k tokens, 676 rows of 128 tokens


@pytest.fixture(scope="session")
def shakespeare_tokens(shared_dir):
    """Token lists and ids of the speeches of the first STAGE_TEXT_CHARS characters; each speech is one document."""
    text = (shared_dir / "text" / "tinyshakespeare_input.txt").read_text(encoding="utf-8")[:STAGE_TEXT_CHARS]
    speeches = [speech for speech in text.split("\n\n") if speech.strip()]
    tokenizer = load_tokenizer()
    doc_ids = [f"shakespeare-{index:05d}" for index in range(len(speeches))]
    return tokenizer, tokenizer.encode_batch(speeches), doc_ids


def _write_stage(stage_dir, tokens, seq_len: int):
    tokenizer, token_lists, doc_ids = tokens
    table = pack_documents(token_lists, doc_ids, seq_len=seq_len, eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id)
    with ShardWriter(stage_dir, rows_per_shard=200) as writer:
        writer.write(table)
    write_manifest(stage_dir, {"tokenizer": tokenizer.manifest_entry(), "seq_len": seq_len})
    return stage_dir


@pytest.fixture(scope="session")
def shakespeare_stage(shakespeare_tokens, tmp_path_factory):
    """A stage folder of 128-token rows with a manifest."""
    return _write_stage(tmp_path_factory.mktemp("stage-1"), shakespeare_tokens, STAGE_SEQ_LEN)


@pytest.fixture(scope="session")
def short_stage(shakespeare_tokens, tmp_path_factory):
    """The same text packed into 64-token rows, as a shorter-context first stage."""
    return _write_stage(tmp_path_factory.mktemp("stage-short"), shakespeare_tokens, SHORT_STAGE_SEQ_LEN)


@pytest.fixture(autouse=True)
def two_threads():
    """Two torch threads: the CPUs are shared with other test processes."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)
