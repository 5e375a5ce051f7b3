"""Exact dedup: text hashes and URL keys per batch, selection on the driver, marking per batch."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest

from mimo_data.dedup.exact import (
    DuplicateIdError,
    mark_duplicates,
    normalise_url,
    select_exact_duplicates,
    text_hash,
    text_hash_batch,
    url_key_batch,
)
from mimo_data.document import documents_from_rows, make_doc_id, mark_dropped


@pytest.fixture(scope="module")
def articles(shared_dir) -> list[dict]:
    path = shared_dir / "corpus" / "html_general" / "scrapinghub_aeb" / "ground-truth.json"
    truth = json.loads(path.read_text("utf-8"))
    return [truth[key] for key in sorted(truth)][:12]


def _rows(source: str, articles: list[dict]) -> list[dict]:
    return [
        {
            "id": make_doc_id(source, article["url"]),
            "source": source,
            "format": "html",
            "url": article["url"],
            "text": article["articleBody"],
        }
        for article in articles
    ]


def _dedup_by_text(table: pa.Table) -> pa.Table:
    hashed = text_hash_batch(table)
    dropped = select_exact_duplicates(
        hashed.column("id").to_pylist(), hashed.column("text_hash").to_pylist()
    )
    return mark_duplicates(hashed, dropped, step="exact_dedup", reason="duplicate_exact")


def test_copies_across_sources_collapse(articles):
    # The second source contains the same articles with different whitespace and line breaks.
    reformatted = [
        {**article, "articleBody": "\n\n  " + article["articleBody"].replace(" ", "  ") + "\n"}
        for article in articles[:6]
    ]
    table = documents_from_rows(_rows("crawl-a", articles) + _rows("crawl-b", reformatted))
    out = _dedup_by_text(table)

    reasons = out.column("drop_reason").to_pylist()
    assert reasons.count("duplicate_exact") == 6
    ids = out.column("id").to_pylist()
    for doc_id, reason, kept_id in zip(ids, reasons, out.column("duplicate_of").to_pylist()):
        if reason is None:
            assert kept_id is None
        else:
            assert kept_id < doc_id
            assert reasons[ids.index(kept_id)] is None


def test_selection_independent_of_order(articles):
    rows = _rows("crawl-a", articles) + _rows("crawl-b", articles[:5])
    rows += _rows("crawl-c", articles[3:8])
    table = text_hash_batch(documents_from_rows(rows))
    pairs = list(zip(table.column("id").to_pylist(), table.column("text_hash").to_pylist()))
    expected = select_exact_duplicates(*zip(*pairs))
    assert len(expected) == 10
    for seed in range(5):
        random.Random(seed).shuffle(pairs)
        assert select_exact_duplicates(*zip(*pairs)) == expected


def test_text_hash_normalisation():
    assert text_hash("Caf\u00e9  au\n\tlait ") == text_hash("Cafe\u0301 au lait")
    assert text_hash("Café au lait") != text_hash("café au lait")
    table = documents_from_rows([{"id": "a", "source": "s", "format": "x", "text": "x"}])
    out = text_hash_batch(table)
    assert out.schema.field("text_hash").type == pa.uint64()


def test_dropped_rows_ignored(articles):
    rows = _rows("crawl-a", articles[:2]) + _rows("crawl-b", articles[:2])
    table = mark_dropped(documents_from_rows(rows), [None, None, "low_alpha", None], step="filter")
    hashed = text_hash_batch(table)
    assert hashed.column("text_hash").to_pylist()[2] is None
    out = _dedup_by_text(table)
    assert out.column("drop_reason").to_pylist().count("duplicate_exact") == 1
    assert out.column("drop_reason").to_pylist()[2] == "low_alpha"
    assert out.column("duplicate_of").to_pylist()[2] is None


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("HTTPS://Example.COM:443/Path/?q=1#top", "example.com/Path?q=1"),
        ("http://example.com:80/", "example.com"),
        ("http://www.example.com:8080/a/", "example.com:8080/a"),
        ("http://user@[2001:DB8::1]:81/x", "[2001:db8::1]:81/x"),
        ("https://example.com/a?utm_source=x&id=7&fbclid=y&b=2", "example.com/a?b=2&id=7"),
        ("example.com/page", None),
        ("ftp://example.com/file", None),
        ("http://example.com:99999/", None),
    ],
)
def test_normalise_url(url, key):
    assert normalise_url(url) == key


def _url_variant(url: str) -> str:
    # Same page: upper-case scheme and host, a trailing slash and a fragment. The path keeps
    # its case because paths are case-sensitive.
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    return f"{scheme.upper()}://{host.upper()}/{path.rstrip('/')}/#comments"


def test_url_duplicates_collapse(articles):
    rows = _rows("crawl-a", articles[:3])
    first = rows[0]
    copy = {**first, "id": first["id"] + "-b", "source": "crawl-b"}
    copy["url"] = _url_variant(first["url"])
    rows.append(copy)
    rows.append({"id": "no-url", "source": "crawl-b", "format": "html", "text": "t"})
    keyed = url_key_batch(documents_from_rows(rows))
    assert keyed.column("url_key").to_pylist()[-1] is None
    ids = keyed.column("id").to_pylist()
    dropped = select_exact_duplicates(ids, keyed.column("url_key").to_pylist())
    assert dropped == {rows[0]["id"] + "-b": rows[0]["id"]}


def test_highest_quality_kept():
    dropped = select_exact_duplicates(["a", "b", "c"], [1, 1, 1], [0.2, 0.9, None])
    assert dropped == {"a": "b", "c": "b"}
    tied = select_exact_duplicates(["b", "a"], [1, 1], [0.5, 0.5])
    assert tied == {"b": "a"}


def test_duplicate_ids_rejected():
    with pytest.raises(DuplicateIdError, match="'a'"):
        select_exact_duplicates(["a", "b", "a"], [1, 2, 1])
    with pytest.raises(ValueError, match="same length"):
        select_exact_duplicates(["a"], [1, 2])


def test_earlier_duplicate_of_kept():
    table = documents_from_rows([{"id": i, "source": "s", "format": "x", "text": i} for i in "abc"])
    first = mark_duplicates(table, {"b": "a"}, step="exact_dedup", reason="duplicate_exact")
    second = mark_duplicates(
        first, {"b": "c", "c": "a"}, step="minhash_dedup", reason="duplicate_near"
    )
    assert second.column("duplicate_of").to_pylist() == [None, "a", "a"]
    assert second.column("drop_reason").to_pylist() == [None, "duplicate_exact", "duplicate_near"]
