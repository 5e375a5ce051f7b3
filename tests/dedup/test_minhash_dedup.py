"""MinHash near-duplicate dedup on real articles: edited copies caught, distinct ones kept."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest

from mimo_data.dedup.minhash import (
    MinHashConfig,
    MinHashSigner,
    mark_duplicates,
    select_near_duplicates,
    shingle_hashes,
    shingles,
)
from mimo_data.document import documents_from_rows, make_doc_id, mark_dropped

CONFIG = MinHashConfig()


@pytest.fixture(scope="module")
def articles(shared_dir) -> list[str]:
    path = shared_dir / "corpus" / "html_general" / "scrapinghub_aeb" / "ground-truth.json"
    truth = json.loads(path.read_text("utf-8"))
    return [truth[key]["articleBody"] for key in sorted(truth)]


def _edit_words(text: str, positions: list[int]) -> str:
    words = text.split()
    for position in positions:
        words[position] = words[position].upper() + "x"
    return " ".join(words)


def _table(source: str, texts: list[str]) -> pa.Table:
    rows = [
        {"id": make_doc_id(source, str(index)), "source": source, "format": "html", "text": text}
        for index, text in enumerate(texts)
    ]
    return documents_from_rows(rows)


def _select(tables: list[pa.Table]) -> dict[str, str]:
    signer = MinHashSigner(CONFIG)
    ids, signatures = [], []
    for table in tables:
        signed = signer(table)
        ids += signed.column("id").to_pylist()
        signatures += signed.column("minhash").to_pylist()
    return select_near_duplicates(ids, signatures, CONFIG)


def test_distinct_articles_kept(articles):
    assert len(articles) >= 100
    assert _select([_table("news", articles)]) == {}


def test_edited_copies_caught(articles):
    long_articles = [text for text in articles if len(text.split()) >= 300][:10]
    edited = [_edit_words(text, [20, 120, 250]) for text in long_articles]
    originals = _table("news", long_articles)
    copies = _table("mirror", edited)
    dropped = _select([originals, copies])

    assert len(dropped) == len(long_articles)
    pairs = zip(originals.column("id").to_pylist(), copies.column("id").to_pylist())
    for original_id, copy_id in pairs:
        kept, removed = sorted([original_id, copy_id])
        assert dropped[removed] == kept


def test_heavily_edited_copy_kept(articles):
    text = next(text for text in articles if len(text.split()) >= 300)
    rewritten = _edit_words(text, list(range(0, 300, 6)))  # one word in six changed
    assert _select([_table("news", [text]), _table("mirror", [rewritten])]) == {}


def test_result_independent_of_order_and_batches(articles):
    edited = [_edit_words(text, [5, 60]) for text in articles[:40] if len(text.split()) > 80]
    texts = articles[:40] + edited
    table = _table("mixed", texts)
    expected = _select([table])
    assert len(expected) >= 10

    rows = table.to_pylist()
    for seed in range(3):
        random.Random(seed).shuffle(rows)
        shuffled = documents_from_rows(rows)
        batches = [shuffled.slice(start, 7) for start in range(0, shuffled.num_rows, 7)]
        assert _select(batches) == expected


def test_dropped_rows_ignored(articles):
    text = next(text for text in articles if len(text.split()) >= 300)
    table = _table("news", [text, _edit_words(text, [50]), _edit_words(text, [150])])
    table = mark_dropped(table, [None, "low_alpha", None], step="filter")
    signed = MinHashSigner(CONFIG)(table)
    assert signed.column("minhash").to_pylist()[1] is None

    dropped = select_near_duplicates(
        signed.column("id").to_pylist(), signed.column("minhash").to_pylist(), CONFIG
    )
    out = mark_duplicates(signed, dropped, step="minhash_dedup", reason="duplicate_near")
    ids = out.column("id").to_pylist()
    kept, removed = sorted([ids[0], ids[2]])
    assert dropped == {removed: kept}
    reasons = dict(zip(ids, out.column("drop_reason").to_pylist()))
    assert reasons == {kept: None, ids[1]: "low_alpha", removed: "duplicate_near"}
    assert out.column("duplicate_of").to_pylist()[1] is None


def test_chinese_shingled_by_characters(shared_dir):
    path = shared_dir / "corpus" / "html_zh" / "newspaper4k__chinese_article_001.expected.txt"
    text = path.read_text("utf-8")
    lengths = {len(shingle.decode("utf-8")) for shingle in shingles(text, CONFIG)}
    assert lengths == {CONFIG.shingle_chars}

    edited = text.replace("中美", "美中", 2)
    assert edited != text
    dropped = _select([_table("news", [text]), _table("mirror", [edited])])
    assert len(dropped) == 1


def test_signature_column():
    table = _table("s", ["one two three four five six seven", "   ", None])
    signed = MinHashSigner(CONFIG)(table)
    assert signed.schema.field("minhash").type == pa.list_(pa.uint32())
    signatures = signed.column("minhash").to_pylist()
    assert len(signatures[0]) == CONFIG.num_perm
    assert signatures[1:] == [None, None]


def test_num_perm_mismatch_rejected():
    signed = MinHashSigner(MinHashConfig(num_perm=64))(_table("s", ["a b c d e f"]))
    with pytest.raises(ValueError, match="num_perm"):
        select_near_duplicates(
            signed.column("id").to_pylist(), signed.column("minhash").to_pylist(), CONFIG
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("threshold", 0.0), ("threshold", 1.5), ("num_perm", 1), ("shingle_words", 0), ("bands", 200)],
)
def test_invalid_config_names_field(field, value):
    with pytest.raises(ValueError, match=field):
        MinHashConfig(**{field: value})


def test_signature_matches_datasketch(articles):
    # Our signature is datasketch's affine32 MinHash of the same shingle hashes, same seed.
    from datasketch import MinHash

    hashes, offsets = shingle_hashes(articles[:3], CONFIG)
    signatures, signed = MinHashSigner(CONFIG).sign(articles[:3])
    assert signed.all()
    for row in range(3):
        reference = MinHash(num_perm=CONFIG.num_perm, seed=CONFIG.seed, hashfunc=lambda value: value)
        reference.update_batch(hashes[offsets[row] : offsets[row + 1]].tolist())
        assert (reference.hashvalues == signatures[row]).all()


def test_shingles_normalised():
    config = MinHashConfig(shingle_words=2)
    assert shingles("Ｈｅｌｌｏ,  World!  hello world", config) == [b"hello world", b"world hello"]
    hashes, offsets = shingle_hashes(["Hello, world!", "hello world", "world hello"], config)
    assert hashes[0] == hashes[1] != hashes[2]
    assert list(offsets) == [0, 1, 2, 3]


def test_signatures_independent_of_batch(articles):
    signer = MinHashSigner(CONFIG)
    whole, _ = signer.sign(articles[:21])
    for start in range(0, 21, 7):
        part, _ = signer.sign(articles[start : start + 7])
        assert (part == whole[start : start + 7]).all()


def test_lsh_params_default_and_override():
    assert CONFIG.lsh_params() == (14, 9)
    assert MinHashConfig(bands=16).lsh_params() == (16, 8)
