"""The bundled tokenizer: exact round trips, special tokens, lookup errors and the asset build."""

from __future__ import annotations

import importlib.util
import json
import pickle
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from mimo_data.tokenize import TokenizerNotFoundError, bundled_tokenizer_names, load_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSET = REPO_ROOT / "tokenizer" / "mimo-bpe-16k.json"

ROUND_TRIP_CASES = {
    "english": "The quick brown fox jumps over the lazy dog; it was 1,024.5 metres away!",
    "chinese": "数学是研究数量、结构、变化以及空间等概念的一门学科。我们在第3章讨论线性代数。",
    "latex": r"Let $f(x)=\frac{x^2+1}{\sqrt{x}}$. Then $$\int_0^1 f(x)\,dx = \sum_{n\ge 1} \binom{2n}{n}^{-1}.$$",
    "python": (
        "def collatz(n: int) -> list[int]:\n"
        "    steps = [n]\n"
        "    while n != 1:\n"
        "        n = n // 2 if n % 2 == 0 else 3 * n + 1\n"
        "\tsteps.append(n)  # a tab-indented line\n"
        "    return steps\n\n\n"
    ),
    "whitespace_and_emoji": "  leading spaces,\ttabs\r\nCRLF, trailing   \u00a0 and 🙂\n",
}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


@pytest.mark.parametrize("name", sorted(ROUND_TRIP_CASES))
def test_round_trip_is_exact(tokenizer, name):
    text = ROUND_TRIP_CASES[name]
    [ids] = tokenizer.encode_batch([text])
    assert ids.dtype == np.int32
    assert ids.ndim == 1
    assert len(ids) > 0
    assert tokenizer.decode(ids) == text


def test_round_trip_on_shared_files(tokenizer, shared_dir):
    paths = [
        shared_dir / "corpus" / "html_zh" / "sitdown__zhihu_formula.expected.md",
        shared_dir / "corpus" / "html_zh" / "MinerU-Webkit__mathworks.expected.md",
        shared_dir / "text" / "peps" / "pep-0263.rst",
        shared_dir / "text" / "tinyshakespeare_input.txt",
    ]
    texts = [path.read_text(encoding="utf-8") for path in paths]
    with (shared_dir / "reasoning" / "deepseekmath_v2_IMO2025.jsonl").open(encoding="utf-8") as lines:
        texts.append(json.loads(next(lines))["model_prediction"]["proof"])

    texts = [unicodedata.normalize("NFC", text) for text in texts]
    for index, (text, ids) in enumerate(zip(texts, tokenizer.encode_batch(texts))):
        assert tokenizer.decode(ids) == text, f"text {index}"


def test_decode_applies_nfc(tokenizer):
    decomposed = "Cafe\u0301"  # "e" + combining acute accent
    [ids] = tokenizer.encode_batch([decomposed])
    assert tokenizer.decode(ids) == "Caf\u00e9"


def test_special_token_ids(tokenizer):
    assert tokenizer.eos_id == 0
    assert tokenizer.pad_id == 1
    assert tokenizer.vocab_size == 16384


def test_literal_special_token_text_is_not_special(tokenizer):
    text = "a document that mentions <|endoftext|> and <|pad|> literally"
    [ids] = tokenizer.encode_batch([text])
    assert tokenizer.eos_id not in ids.tolist()
    assert tokenizer.pad_id not in ids.tolist()
    assert tokenizer.decode(ids) == text


def test_pickled_tokenizer_keeps_literal_text(tokenizer):
    text = "ends with <|endoftext|>"
    copy = pickle.loads(pickle.dumps(tokenizer))
    [ids] = copy.encode_batch([text])
    assert copy.eos_id not in ids.tolist()
    assert ids.tolist() == tokenizer.encode_batch([text])[0].tolist()


def test_encode_adds_no_special_tokens(tokenizer):
    empty, word = tokenizer.encode_batch(["", "hello"])
    assert len(empty) == 0
    assert tokenizer.eos_id not in word.tolist()


def test_digits_are_single_tokens(tokenizer):
    [ids] = tokenizer.encode_batch(["31415926"])
    assert len(ids) == 8
    assert [tokenizer.decode([i]) for i in ids] == list("31415926")


def test_decode_keeps_special_tokens_by_default(tokenizer):
    [ids] = tokenizer.encode_batch(["hi"])
    with_eos = ids.tolist() + [tokenizer.eos_id]
    assert tokenizer.decode(with_eos) == "hi<|endoftext|>"
    assert tokenizer.decode(with_eos, skip_special_tokens=True) == "hi"


def test_encode_rejects_non_string(tokenizer):
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        tokenizer.encode_batch(["fine", None])


def test_unknown_name_lists_bundled_names():
    with pytest.raises(TokenizerNotFoundError, match="mimo-bpe-16k"):
        load_tokenizer("no-such-tokenizer")


def test_load_by_path(tmp_path):
    path = tmp_path / "copy.json"
    path.write_bytes(ASSET.read_bytes())
    tokenizer = load_tokenizer(str(path))
    assert tokenizer.name == str(path)
    assert tokenizer.vocab_size == 16384
    assert "mimo-bpe-16k" in bundled_tokenizer_names()


def test_asset_is_small():
    assert ASSET.stat().st_size < 2 * 1024 * 1024


def test_build_script_reproduces_asset(shared_dir):
    spec = importlib.util.spec_from_file_location("build_tokenizer", REPO_ROOT / "tokenizer" / "build_tokenizer.py")
    build_tokenizer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_tokenizer)

    rebuilt = json.loads(build_tokenizer.train(shared_dir, build_tokenizer.VOCAB_SIZE).to_str())
    committed = json.loads(ASSET.read_text(encoding="utf-8"))
    assert rebuilt["model"]["vocab"] == committed["model"]["vocab"]
    assert rebuilt["model"]["merges"] == committed["model"]["merges"]
    assert rebuilt == committed
