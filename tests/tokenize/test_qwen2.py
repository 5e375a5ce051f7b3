"""The Qwen2 vocabulary from the dashscope wheel: published ids, special tokens, round trips."""

from __future__ import annotations

import pickle
import unicodedata

import numpy as np
import pytest

from mimo_data.tokenize import bundled_tokenizer_names, load_tokenizer
from mimo_data.tokenize.qwen2 import MAX_PIECE_CHARS, Qwen2Tokenizer, _encoding, _split_long_text

# Ids that Qwen2's own tokenizer gives these strings, as published in its chat-template dumps
# (<|im_start|>system / user / assistant) and in the transformers Qwen2-Audio processor test
# ("You are a helpful assistant." = 2610 525 264 10950 17847 13).
KNOWN_IDS = {
    "Hello": [9707],
    "Hello world": [9707, 1879],
    "system": [8948],
    "user": [872],
    "assistant": [77091],
    "\n": [198],
    "You are a helpful assistant.": [2610, 525, 264, 10950, 17847, 13],
    "你好": [108386],
}


@pytest.fixture(scope="module")
def qwen2():
    return load_tokenizer("qwen2")


@pytest.mark.parametrize("text", sorted(KNOWN_IDS))
def test_qwen2_ids_match_published(qwen2, text):
    [ids] = qwen2.encode_batch([text])
    assert ids.dtype == np.int32
    assert ids.tolist() == KNOWN_IDS[text]


def test_qwen2_special_tokens_and_padded_vocab(qwen2):
    assert qwen2.vocab_size == 151_680
    assert qwen2.eos_id == 151_643
    assert qwen2.pad_id == 151_679
    assert qwen2.decode([qwen2.eos_id]) == "<|endoftext|>"
    assert qwen2.decode([9707, qwen2.eos_id, qwen2.pad_id], skip_special_tokens=True) == "Hello"
    assert "qwen2" in bundled_tokenizer_names()


def test_qwen2_literal_special_text_stays_ordinary(qwen2):
    [ids] = qwen2.encode_batch(["a <|endoftext|> b"])
    assert qwen2.eos_id not in ids.tolist()
    assert qwen2.decode(ids) == "a <|endoftext|> b"


def test_qwen2_round_trip_on_shared_text(qwen2, shared_dir):
    texts = [
        (shared_dir / "corpus" / "html_zh" / "sitdown__zhihu_formula.expected.md").read_text(encoding="utf-8"),
        (shared_dir / "text" / "peps" / "pep-0263.rst").read_text(encoding="utf-8"),
    ]
    for text, ids in zip(texts, qwen2.encode_batch(texts)):
        assert qwen2.decode(ids) == text


def test_qwen2_long_text_is_split_losslessly(qwen2):
    text = ("x = 1\n" * (MAX_PIECE_CHARS // 3)) + "end"
    pieces = _split_long_text(text)
    assert len(pieces) > 1
    assert "".join(pieces) == text
    assert all(len(piece) <= MAX_PIECE_CHARS for piece in pieces)
    [ids] = qwen2.encode_batch([text])
    assert qwen2.decode(ids) == text


def test_qwen2_pickles_for_ray_workers(qwen2):
    copy = pickle.loads(pickle.dumps(qwen2))
    assert copy.encode_batch(["Hello world"])[0].tolist() == [9707, 1879]


def test_qwen2_rejects_ids_outside_vocab(qwen2):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        qwen2.decode([151_680])


def shared_texts(shared_dir) -> list[str]:
    """English reStructuredText, Chinese Markdown with formulas, and spellings of special tokens."""
    texts = [path.read_text(encoding="utf-8") for path in sorted((shared_dir / "text" / "peps").glob("*.rst"))[:20]]
    texts.append((shared_dir / "corpus" / "html_zh" / "sitdown__zhihu_formula.expected.md").read_text(encoding="utf-8"))
    texts += ["a <|endoftext|> b", "<|im_start|>user\n<|im_end|><|pad|>", "", "Cafe\u0301 n\u0303"]
    return texts


def test_qwen2_ids_equal_tiktoken_encode_ordinary(qwen2, shared_dir):
    texts = shared_texts(shared_dir)
    assert all(len(text) <= MAX_PIECE_CHARS for text in texts)  # guard: each text is encoded as one piece, like encode_ordinary does
    for text, ids in zip(texts, qwen2.encode_batch(texts)):
        expected = _encoding().encode_ordinary(unicodedata.normalize("NFC", text))
        assert ids.dtype == np.int32
        assert ids.flags.writeable
        assert ids.tolist() == expected, text[:60]


def test_qwen2_threads_give_same_ids(qwen2, shared_dir):
    texts = shared_texts(shared_dir)
    threaded = Qwen2Tokenizer(num_threads=3).encode_batch(texts)
    assert len(threaded) == len(texts)
    for single, multi in zip(qwen2.encode_batch(texts), threaded):
        assert np.array_equal(single, multi)


def test_qwen2_pickle_keeps_num_threads():
    copy = pickle.loads(pickle.dumps(Qwen2Tokenizer(num_threads=2)))
    assert copy.num_threads == 2
    assert copy.encode_batch(["Hello", "world"])[0].tolist() == [9707]


@pytest.mark.parametrize("num_threads", [0, -1, 1.5])
def test_qwen2_rejects_invalid_num_threads(num_threads):
    with pytest.raises(ValueError, match="num_threads must be a positive integer"):
        Qwen2Tokenizer(num_threads=num_threads)
