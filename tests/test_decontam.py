"""Decontamination against the real benchmark files: planted items, clean pages, reasoning traces."""

from __future__ import annotations

import json
import re

import pytest

from mimo_data.decontam import BenchmarkFileError, BenchmarkIndex, BenchmarkSpec, DecontamStep, decontamination_report
from mimo_data.document import documents_from_rows


@pytest.fixture(scope="module")
def benchmark_specs(shared_dir):
    folder = shared_dir / "benchmarks"
    return [
        {"name": "gsm8k", "path": str(folder / "gsm8k_test.jsonl")},
        {"name": "math500", "path": str(folder / "math500_test.jsonl")},
        {"name": "humaneval", "path": str(folder / "HumanEval.jsonl.gz")},
    ]


@pytest.fixture(scope="module")
def step(benchmark_specs):
    return DecontamStep(benchmarks=benchmark_specs)


def _table(texts, source="web"):
    return documents_from_rows([{"id": str(i), "source": source, "format": "jsonl", "text": t} for i, t in enumerate(texts)])


def _questions(shared_dir, count):
    with (shared_dir / "benchmarks" / "gsm8k_test.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line)["question"] for _, line in zip(range(count), lines)]


def test_verbatim_plants_dropped_clean_kept(shared_dir, step):
    articles = json.loads((shared_dir / "corpus" / "html_general" / "scrapinghub_aeb" / "ground-truth.json").read_text("utf-8"))
    clean = [entry["articleBody"] for entry in articles.values() if entry["articleBody"]][:40]
    planted = [article[:400] + "\n" + question + "\n" + article[400:800] for article, question in zip(clean, _questions(shared_dir, 20))]
    out = step(_table(clean + planted))
    reasons = out.column("drop_reason").to_pylist()
    assert reasons[:40] == [None] * 40
    assert reasons[40:] == ["benchmark_overlap"] * 20
    assert out.column("drop_step").to_pylist()[40] == "decontam"


def test_matches_name_items(shared_dir, step):
    question = _questions(shared_dir, 1)[0]
    out = step(_table(["Homework help:\n" + question]))
    assert out.column("decontam_matches").to_pylist()[0] == ["gsm8k/line-1"]


def test_normalisation_ignores_case_and_spacing(shared_dir, benchmark_specs):
    index = BenchmarkIndex([BenchmarkSpec(**benchmark_specs[0])])
    question = _questions(shared_dir, 1)[0]
    assert index.matches(re.sub(r"\s+", "  ", question.upper()))


def test_reasoning_traces_report(shared_dir, step, benchmark_specs):
    with (shared_dir / "reasoning" / "skyt1_27b_math500.jsonl").open(encoding="utf-8") as lines:
        texts = [json.loads(line)["question"] for _, line in zip(range(50), lines)]
    out = step(_table(texts, source="skyt1"))
    rows = out.select(["source", "decontam_matches"]).to_pylist()
    report = decontamination_report(rows, {"gsm8k": 1319, "math500": 500, "humaneval": 164}, "drop")
    assert report["benchmarks"]["math500"]["documents_matched"] >= 45
    assert report["benchmarks"]["math500"]["documents_by_source"]["skyt1"] >= 45
    assert report["benchmarks"]["gsm8k"]["documents_matched"] == 0


def test_tag_action_keeps_documents(shared_dir, benchmark_specs):
    step = DecontamStep(benchmarks=benchmark_specs[:1], action="tag")
    out = step(_table([_questions(shared_dir, 1)[0]]))
    assert out.column("drop_reason").to_pylist() == [None]
    assert out.column("decontam_matches").to_pylist() == [["gsm8k/line-1"]]


def test_missing_text_field(tmp_path):
    path = tmp_path / "bench.jsonl"
    path.write_text(json.dumps({"body": "x"}) + "\n", "utf-8")
    with pytest.raises(BenchmarkFileError, match="text_fields"):
        BenchmarkIndex([BenchmarkSpec(name="b", path=str(path))])
