"""Broken and hostile inputs: per-document limits, and a whole build over the generated bad-input corpus."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mimo_data.accounting import check_accounting
from mimo_data.badinput import HOSTILE_URL, NESTED_HTML_LEVELS, PASSES_EXTRACTION, write_bad_input_corpus, write_huge_html
from mimo_data.cli import main as cli_main
from mimo_data.document import documents_from_rows
from mimo_data.extract.limits import ExtractTimeout, is_binary, time_limit
from mimo_data.io import read_file
from mimo_data.io.common import document_row
from mimo_data.steps import extract_text

PARAGRAPH = "<p>" + "The quick brown fox jumps over the lazy dog beside the old river bank. " * 8 + "</p>"
PAGE = f"<html><body>{PARAGRAPH * 3}</body></html>"


def extract_one(content: bytes, *, fmt: str = "html", limits: dict | None = None) -> dict:
    row = document_row(source="test", fmt=fmt, locator="page", domain=None, content=content)
    [result] = extract_text(documents_from_rows([row]), limits=limits).select(["text", "drop_step", "drop_reason"]).to_pylist()
    return result


def test_plain_page_is_extracted():
    result = extract_one(PAGE.encode())

    assert result["drop_reason"] is None
    assert "quick brown fox" in result["text"]


def test_nested_html_is_dropped_too_deep():
    nested = "<html><body>" + "<div>" * NESTED_HTML_LEVELS + PARAGRAPH + "</div>" * NESTED_HTML_LEVELS + "</body></html>"

    result = extract_one(nested.encode())

    assert result["drop_step"] == "extract"
    assert result["drop_reason"] == "html_too_deep"


def test_partly_deep_page_is_dropped():
    # libxml2 returns the tree up to the depth limit without raising, so the
    # paragraphs before the deep part would otherwise be kept as the whole page.
    page = "<html><body>" + PARAGRAPH * 3 + "<div>" * 300 + PARAGRAPH + "</div>" * 300 + "</body></html>"

    assert extract_one(page.encode())["drop_reason"] == "html_too_deep"


def test_nesting_below_the_limit_is_extracted():
    page = "<html><body>" + "<div>" * 200 + PARAGRAPH + "</div>" * 200 + "</body></html>"

    result = extract_one(page.encode())

    assert result["drop_reason"] is None
    assert "quick brown fox" in result["text"]


def test_html_over_size_limit_is_too_large():
    result = extract_one(PAGE.encode(), limits={"html_max_bytes": len(PAGE) - 1})

    assert result["drop_reason"] == "too_large"
    assert result["text"] is None


def test_binary_named_html_is_dropped():
    junk = bytes(range(256)) * 64

    result = extract_one(junk)

    assert result["drop_reason"] == "binary_content"


def test_utf16_page_with_bom_is_not_binary():
    content = PAGE.encode("utf-16")

    assert not is_binary(content)
    assert "quick brown fox" in extract_one(content)["text"]


def test_extraction_past_timeout_is_dropped():
    # Any real extraction takes far longer than a microsecond.
    result = extract_one(PAGE.encode(), limits={"html_timeout_seconds": 1e-6})

    assert result["drop_reason"] == "extract_timeout"
    assert result["text"] is None


def test_time_limit_stops_endless_loop():
    with pytest.raises(ExtractTimeout):
        with time_limit(0.05) as armed:
            assert armed
            while True:
                pass


def test_time_limit_is_off_outside_main_thread():
    armed = []

    def body():
        with time_limit(0.05) as flag:
            armed.append(flag)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()

    assert armed == [False]


def test_time_limit_interrupts_ray_data_task(ray_session):
    import ray.data

    # Nested, so Ray pickles it by value: workers cannot import this test module.
    def interrupted(batch: dict) -> dict:
        # The loop ends by itself after a minute, so a broken timer fails the test instead of hanging it.
        deadline = time.monotonic() + 60
        try:
            with time_limit(0.05):
                while time.monotonic() < deadline:
                    pass
        except ExtractTimeout:
            return {"interrupted": [True] * len(batch["id"])}
        return {"interrupted": [False] * len(batch["id"])}

    rows = ray.data.from_items([{"id": 0}]).map_batches(interrupted, batch_size=1).take_all()

    assert rows == [{"interrupted": True}]


def test_huge_html_file_is_too_large_unparsed(tmp_path):
    path = tmp_path / "huge.html"
    write_huge_html(path)
    rows = list(read_file("html", str(path), source="test"))

    [result] = extract_text(documents_from_rows(rows)).select(["text", "drop_step", "drop_reason"]).to_pylist()

    assert path.stat().st_size == 100_000_000
    assert result["drop_step"] == "extract"
    assert result["drop_reason"] == "too_large"
    assert result["text"] is None


@pytest.fixture(scope="module")
def bad_build(ray_session, shared_dir, tmp_path_factory):
    """Build the bad-input corpus (without the 100 MB file) through the CLI with --write-dropped."""
    root = tmp_path_factory.mktemp("bad_input")
    corpus = write_bad_input_corpus(root / "corpus", shared_warc_dir=shared_dir / "corpus" / "warc")
    before = _files_outside(root, root / "corpus" / "out")
    exit_code = cli_main(["build", str(corpus.pipeline), "--write-dropped"])
    manifest = json.loads((root / "corpus" / "out" / "stage-1" / "manifest.json").read_text())
    dropped = pq.read_table(root / "corpus" / "out" / "dropped").to_pylist()
    kept = pq.read_table(root / "corpus" / "out" / "documents", columns=["path", "url"]).to_pylist()
    return {"root": root, "corpus": corpus, "exit_code": exit_code, "manifest": manifest, "dropped": dropped,
            "kept": kept, "files_before": before}


def _files_outside(root: Path, output: Path) -> set[Path]:
    return {path for path in root.rglob("*") if output not in path.parents and path != output}


def _rows_of(rows: list[dict], file_key: str) -> list[dict]:
    return [row for row in rows if row["path"] == file_key or row["path"].startswith(file_key + "#")]


def test_bad_input_build_finishes(bad_build):
    assert bad_build["exit_code"] == 0
    assert bad_build["manifest"]["tokens_written"] > 0


def test_bad_input_accounting_ties_out(bad_build):
    accounting = bad_build["manifest"]["accounting"]
    check_accounting(accounting)

    read_in = accounting[0]["documents_in"]
    assert len(bad_build["dropped"]) + accounting[-1]["kept"] == read_in
    assert len(bad_build["kept"]) == accounting[-1]["kept"]


def test_dropped_rows_match_accounting_per_reason(bad_build):
    from collections import Counter

    written = Counter((row["drop_step"], row["drop_reason"]) for row in bad_build["dropped"])
    counted = Counter({(entry["step"], reason): count for entry in bad_build["manifest"]["accounting"]
                       for reason, count in entry["dropped"].items()})

    assert written == counted


def test_each_bad_file_gets_its_reason(bad_build):
    expected = bad_build["corpus"].expected
    assert len(expected) >= 20
    for file_key, (step, reason) in expected.items():
        dropped = _rows_of(bad_build["dropped"], file_key)
        if (step, reason) == PASSES_EXTRACTION:
            early = [row["drop_reason"] for row in dropped if row["drop_step"] in ("read", "extract")]
            assert not early, f"{file_key}: dropped before extraction finished: {early}"
            assert dropped or _rows_of(bad_build["kept"], file_key), f"{file_key}: no row at all"
        else:
            found = {(row["drop_step"], row["drop_reason"]) for row in dropped}
            assert (step, reason) in found, f"{file_key}: expected {(step, reason)}, found {found}"


def test_reader_drops_are_written_with_reasons(bad_build):
    read_drops = [row for row in bad_build["dropped"] if row["drop_step"] == "read"]
    jsonl = [row for row in read_drops if row["format"] == "jsonl"]

    assert {row["drop_reason"] for row in jsonl} == {
        "jsonl_invalid_json", "jsonl_invalid_utf8", "jsonl_not_object", "jsonl_missing_text"}
    assert all(row["path"] and row["id"] and row["source"] for row in read_drops)


def test_input_names_and_urls_stay_inside_output(bad_build):
    root = bad_build["root"]
    created = _files_outside(root, root / "corpus" / "out") - bad_build["files_before"]
    urls = {row["url"] for row in bad_build["dropped"] + bad_build["kept"]}

    assert HOSTILE_URL in urls
    assert created == set()
    assert not (root / "corpus" / "pwned").exists()
    assert not Path("/tmp/mimo-escape").exists()


def test_oversized_file_dropped_before_reading(tmp_path):
    from mimo_data.config import ExtractStepConfig
    from mimo_data.units import _oversized_file

    limits = dataclasses.asdict(ExtractStepConfig(html_max_bytes=1_000_000))
    path = tmp_path / "sparse.html"
    with open(path, "wb") as stream:
        stream.truncate(30_000_000)  # sparse: 30 MB on paper, no data written
    spec = {"path": str(path), "format": "html", "source": "test", "domain": None, "start": None}

    [row] = _oversized_file(spec, limits).to_pylist()
    small = _oversized_file({**spec, "path": str(tmp_path / "missing.html")}, limits)

    assert row["drop_step"] == "extract"
    assert row["drop_reason"] == "too_large"
    assert row["content"] is None
    assert small is None
