"""Global dedup on Ray: reasons, representatives, CJK, determinism across reruns and actors."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from mimo_data.config import DedupStepConfig
from mimo_data.dedup import deduplicate
from mimo_data.dedup.global_dedup import EDGE_SCHEMA, _true_jaccard_filter, minhash_config
from mimo_data.document import documents_from_rows, make_doc_id, mark_dropped, set_column


@pytest.fixture(scope="module")
def articles(shared_dir) -> list[dict]:
    path = shared_dir / "corpus" / "html_general" / "scrapinghub_aeb" / "ground-truth.json"
    truth = json.loads(path.read_text("utf-8"))
    return [truth[key] for key in sorted(truth) if len(truth[key]["articleBody"].split()) >= 300][:8]


@pytest.fixture(scope="module")
def chinese_text(shared_dir) -> str:
    path = shared_dir / "corpus" / "html_zh" / "newspaper4k__chinese_article_001.expected.txt"
    return path.read_text("utf-8")


def _edit_words(text: str, positions: list[int]) -> str:
    words = text.split()
    for position in positions:
        words[position] = words[position].upper() + "x"
    return " ".join(words)


def _url_variant(url: str) -> str:
    # The same page over http, without www., with a trailing slash, a tracking parameter and a fragment.
    host_and_path = url.split("://", 1)[1].removeprefix("www.")
    return f"http://{host_and_path}/?utm_source=feed#top"


def _row(source: str, locator: str, text: str, *, url: str | None = None, quality: float = 0.5) -> dict:
    return {"id": make_doc_id(source, locator), "source": source, "format": "html", "url": url, "text": text,
            "quality": quality}


def _corpus(articles: list[dict], chinese_text: str) -> tuple[pa.Table, dict[str, str]]:
    """Return documents from three sources and the expected ``{dropped id: (reason, kept id)}``."""
    originals = [_row("crawl-a", a["url"], a["articleBody"], url=a["url"]) for a in articles]
    first, second, third, fourth = originals[:4]
    # The exact and near copies have a higher quality than their originals, so they are kept;
    # the URL and Chinese copies have a lower one, so their originals are kept.
    exact = _row("crawl-b", "exact", "\n  " + first["text"].replace(" ", "  "), quality=0.9)
    url_copy = _row("crawl-b", "url", third["text"][: len(third["text"]) // 2],
                    url=_url_variant(third["url"]), quality=0.1)
    near = _row("mirror", "near", _edit_words(second["text"], [20, 120, 250]), quality=0.9)
    far = _row("mirror", "far", _edit_words(fourth["text"], list(range(0, 300, 6))))
    chinese = _row("crawl-a", "zh", chinese_text)
    chinese_copy = _row("mirror", "zh", chinese_text.replace("中美", "美中", 2), quality=0.2)
    # A copy an earlier step dropped keeps its reason and takes no part in dedup.
    dropped = _row("mirror", "dropped", _edit_words(fourth["text"], [7]), quality=1.0)
    rows = originals + [exact, url_copy, near, far, chinese, chinese_copy, dropped]
    expected = {
        first["id"]: ("duplicate_exact", exact["id"]),
        url_copy["id"]: ("duplicate_url", third["id"]),
        second["id"]: ("duplicate_near", near["id"]),
        chinese_copy["id"]: ("duplicate_near", chinese["id"]),
    }
    table = documents_from_rows(rows)
    table = set_column(table, "quality", pa.array([row["quality"] for row in rows], pa.float64()))
    table = mark_dropped(table, [None] * (len(rows) - 1) + ["too_short"], step="heuristics")
    return table, expected


def _run(table: pa.Table, config: DedupStepConfig, *, max_actors: int = 1, explain_dir=None) -> dict[str, tuple]:
    import ray.data

    blocks = [table.slice(start, 5) for start in range(0, table.num_rows, 5)]
    out = deduplicate(ray.data.from_arrow(blocks), config, seed=1, max_actors=max_actors, explain_dir=explain_dir)
    rows = out.select_columns(["id", "drop_reason", "drop_step", "duplicate_of"]).take_all()
    assert len(rows) == table.num_rows
    return {row["id"]: (row["drop_reason"], row["drop_step"], row["duplicate_of"]) for row in rows}


@pytest.fixture(scope="module")
def corpus(articles, chinese_text) -> tuple[pa.Table, dict]:
    return _corpus(articles, chinese_text)


@pytest.fixture(scope="module")
def explain_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("dedup-explain")


@pytest.fixture(scope="module")
def default_run(ray_session, corpus, explain_dir) -> dict[str, tuple]:
    table, _ = corpus
    return _run(table, DedupStepConfig(explain_clusters=5), max_actors=1, explain_dir=explain_dir)


def test_reasons_and_representatives(corpus, default_run):
    _, expected = corpus
    result = default_run

    dropped = {doc_id: (reason, kept) for doc_id, (reason, _, kept) in result.items() if reason and reason.startswith("duplicate_")}
    assert dropped == expected
    steps = {reason: step for reason, step, _ in result.values() if reason and reason.startswith("duplicate_")}
    assert steps == {"duplicate_exact": "dedup_exact", "duplicate_url": "dedup_url", "duplicate_near": "dedup_minhash"}


def test_below_threshold_kept(articles, default_run):
    result = default_run
    far_id = make_doc_id("mirror", "far")
    fourth_id = make_doc_id("crawl-a", articles[3]["url"])
    assert result[far_id] == (None, None, None)
    assert result[fourth_id] == (None, None, None)


def test_identical_across_reruns_and_actors(corpus, default_run):
    table, _ = corpus
    assert sum(reason is not None for reason, _, _ in default_run.values()) == 5
    assert _run(table, DedupStepConfig(), max_actors=2) == default_run


def test_verified_run_identical(corpus, default_run):
    # Every planted near-duplicate has a true Jaccard similarity above the threshold.
    table, _ = corpus
    assert _run(table, DedupStepConfig(verify=True), max_actors=2) == default_run


def test_dropped_documents_untouched(default_run):
    assert default_run[make_doc_id("mirror", "dropped")] == ("too_short", "heuristics", None)


def test_explain_writes_clusters(corpus, default_run, explain_dir):
    _, expected = corpus
    tmp_path = explain_dir

    clusters = [json.loads(line) for line in (tmp_path / "clusters.jsonl").read_text("utf-8").splitlines()]
    near = {doc_id: kept for doc_id, (reason, kept) in expected.items() if reason == "duplicate_near"}
    assert {cluster["representative"] for cluster in clusters} == set(near.values())
    for cluster in clusters:
        kept, member = cluster["members"]
        assert kept["kept"] is True
        assert near[member["id"]] == kept["id"]
        assert 0.8 <= member["estimated_jaccard"] < 1.0
        assert 0.0 < member["true_jaccard"] < 1.0

    lsh = json.loads((tmp_path / "lsh.json").read_text("utf-8"))
    assert (lsh["bands"], lsh["rows"]) == (14, 9)
    curve = [point["candidate_probability"] for point in lsh["s_curve"]]
    assert curve == sorted(curve)
    assert curve[0] == 0.0
    assert curve[-1] == 1.0


def test_true_jaccard_filter_drops_far_pair(articles):
    config = minhash_config(DedupStepConfig(), seed=1)
    text = articles[0]["articleBody"]
    edges = pa.table({
        "source": ["a", "b"], "target": ["c", "d"], "source_quality": [0.5, 0.5], "target_quality": [0.5, 0.5],
        "estimated_jaccard": [0.9, 0.9],
        "source_text": [text, text], "target_text": [_edit_words(text, [10]), articles[1]["articleBody"]],
    })
    kept = _true_jaccard_filter(edges, config=config)
    assert kept.column("source").to_pylist() == ["a"]
    assert kept.column("true_jaccard").to_pylist()[0] >= 0.8
    assert kept.select(EDGE_SCHEMA.names).schema == EDGE_SCHEMA


def test_url_pass_without_any_url(ray_session, articles):
    rows = [_row("pages", f"page-{index}", article["articleBody"]) for index, article in enumerate(articles[:6])]
    rows.append(_row("pages", "copy", articles[0]["articleBody"]))
    table = documents_from_rows(rows)

    result = _run(table, DedupStepConfig(url=True, minhash=False))

    assert all(row["url"] is None for row in rows)
    assert result[rows[-1]["id"]][0] == "duplicate_exact"
    assert sum(reason is not None for reason, _, _ in result.values()) == 1
