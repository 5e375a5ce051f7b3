"""Fixtures shared by the packing tests."""

from __future__ import annotations

import pytest

from mimo_data.tokenize import load_tokenizer


@pytest.fixture(scope="module")
def documents(shared_dir):
    """Real documents of very different lengths: short speeches, an empty text, whole files."""
    text = (shared_dir / "text" / "tinyshakespeare_input.txt").read_text(encoding="utf-8")[:40_000]
    texts = [part for part in text.split("\n\n") if part.strip()][:150]
    texts.append("")
    texts.append((shared_dir / "corpus" / "html_zh" / "sitdown__zhihu_formula.expected.md").read_text(encoding="utf-8"))
    texts.append((shared_dir / "text" / "peps" / "pep-0263.rst").read_text(encoding="utf-8"))

    tokenizer = load_tokenizer()
    token_lists = tokenizer.encode_batch(texts)
    doc_ids = [f"doc-{index:04d}" for index in range(len(texts))]
    return token_lists, doc_ids
