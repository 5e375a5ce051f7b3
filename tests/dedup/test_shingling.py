"""Batch shingle hashing against the per-text reference: same shingles, one hash per shingle."""

from __future__ import annotations

import json

import pytest

from mimo_data.dedup.minhash import MinHashConfig
from mimo_data.dedup.shingling import shingle_hashes, shingle_units

# Texts that take every path of the batch hashing: ASCII, non-ASCII that needs no Python
# normalisation, and characters that NFKC or lower case change.
EDGE_TEXTS = [
    "",
    None,
    "   \n\t ",
    "!!! ... ---",
    "a",
    "Hello, World! Hello_world a_b__c",
    "“Curly quotes” — an em dash… and a non\u00a0breaking space",
    "İstanbul İZMİR ǅemal ﬁne Ｈｅｌｌｏ Ⅻ ½ ⑴ ™ ΣΑΣ",
    "cafe\u0301 café Cafe\u0301 e\u0301\u0302 ᄀ\u1161 가\u11a8",
    "日本語のテキスト、です。中文的句子很短 abc ＡＢＣ",
    "lone \ud800 surrogate \U0001f600 emoji 𠀀𠀁 supplementary",
    "\x00a\x1fb\u2028c\u3000d",
    "internationalization internationalizatiom " + "x" * 600 + " " + "x" * 599 + "y",
]

CONFIGS = {
    "auto": MinHashConfig(),
    "char": MinHashConfig(shingle_unit="char"),
    "word": MinHashConfig(shingle_unit="word", shingle_words=2),
    "single": MinHashConfig(shingle_words=1, shingle_chars=1),
}


@pytest.fixture(scope="module")
def corpus_texts(shared_dir) -> list[str]:
    path = shared_dir / "corpus" / "html_general" / "scrapinghub_aeb" / "ground-truth.json"
    truth = json.loads(path.read_text("utf-8"))
    articles = [truth[key]["articleBody"] for key in sorted(truth)][:30]
    chinese = shared_dir / "corpus" / "html_zh" / "newspaper4k__chinese_article_001.expected.txt"
    return articles + [chinese.read_text("utf-8")]


def _reference_shingles(text: str | None, config: MinHashConfig) -> list[str]:
    # Shingles of the reference path, repeats kept, in text order.
    if not text:
        return []
    units, size, joiner = shingle_units(text, config)
    if not units:
        return []
    return [joiner.join(units[start : start + size]) for start in range(max(len(units) - size + 1, 1))]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_batch_matches_reference(corpus_texts, name):
    config = CONFIGS[name]
    texts = corpus_texts + EDGE_TEXTS
    hashes, offsets = shingle_hashes(texts, config)
    assert len(offsets) == len(texts) + 1

    hash_of: dict[str, int] = {}
    shingle_of: dict[int, str] = {}
    for row, text in enumerate(texts):
        expected = _reference_shingles(text, config)
        found = hashes[offsets[row] : offsets[row + 1]].tolist()
        assert len(found) == len(expected), f"text {row} ({text!r:.60}): shingle count"
        for shingle, value in zip(expected, found):
            assert hash_of.setdefault(shingle, value) == value, f"shingle {shingle!r} got two hashes"
            assert shingle_of.setdefault(value, shingle) == shingle, f"{shingle!r} and {shingle_of[value]!r} collide"
    assert len(hash_of) > 5_000


def test_hash_independent_of_batch_neighbours():
    config = MinHashConfig(shingle_words=2)
    ascii_only, _ = shingle_hashes(["Hello big world"], config)
    with_accent, _ = shingle_hashes(["Hello big world é"], config)
    needs_nfkc, _ = shingle_hashes(["Ｈｅｌｌｏ BIG World Ⅻ"], config)
    alone, _ = shingle_hashes(["hello big world"], config)
    assert ascii_only.tolist() == alone.tolist()
    assert with_accent[:2].tolist() == alone.tolist()
    assert needs_nfkc[:2].tolist() == alone.tolist()

    batch, offsets = shingle_hashes(["日本語のテキストです", "Hello big world", None, "Ｈｅｌｌｏ BIG World Ⅻ"], config)
    assert batch[offsets[1] : offsets[2]].tolist() == alone.tolist()
    assert batch[offsets[3] : offsets[3] + 2].tolist() == alone.tolist()


def test_composed_and_decomposed_equal():
    config = MinHashConfig(shingle_words=1)
    composed, _ = shingle_hashes(["café"], config)
    decomposed, _ = shingle_hashes(["CAFE\u0301"], config)
    plain, _ = shingle_hashes(["cafe"], config)
    assert composed.tolist() == decomposed.tolist()
    assert composed.tolist() != plain.tolist()


def test_long_words_differ_past_first_chunk():
    config = MinHashConfig(shingle_words=1)
    words = ["internationalization", "internationalizatiom", "x" * 600, "x" * 599 + "y", "x" * 599]
    hashes, offsets = shingle_hashes(words, config)
    assert list(offsets) == [0, 1, 2, 3, 4, 5]
    assert len(set(hashes.tolist())) == len(words)


def test_chinese_shingled_by_characters(corpus_texts):
    config = MinHashConfig()
    chinese = corpus_texts[-1]
    hashes, offsets = shingle_hashes([chinese], config)
    units, size, joiner = shingle_units(chinese, config)
    assert (size, joiner) == (config.shingle_chars, "")
    assert offsets[1] == len(units) - size + 1
