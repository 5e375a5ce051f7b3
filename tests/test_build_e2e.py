"""The whole pipeline on the real shared corpus: WARC/HTML/PDF/JSONL in, three stages of shards out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mimo_data.accounting import check_accounting
from mimo_data.cli import main as cli_main
from mimo_data.config import load_pipeline
from mimo_data.engine import build
from mimo_data.tokenize import load_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = ("stage-1", "stage-2", "stage-3")


@pytest.fixture(scope="module")
def real_build(ray_session, shared_dir, tmp_path_factory):
    config = load_pipeline(REPO_ROOT / "pipelines" / "mimo_3stage.yaml")
    output = tmp_path_factory.mktemp("mimo_3stage")
    return build(config, output=str(output))


def stage_table(result, stage: str) -> pa.Table:
    files = sorted((result.output_dir / stage).glob("part-*.parquet"))
    assert files, f"no shards in {stage}"
    return pa.concat_tables(pq.read_table(path) for path in files)


def decoded_stage_text(result, stage: str) -> str:
    tokenizer = load_tokenizer(result.manifests[stage]["tokenizer"]["name"])
    table = stage_table(result, stage)
    pieces = []
    for input_ids, loss_mask in zip(table.column("input_ids").to_pylist(), table.column("loss_mask").to_pylist()):
        pieces.append(tokenizer.decode([token for token, mask in zip(input_ids, loss_mask) if mask]))
    return "".join(pieces)


def kept_documents(result) -> list[dict]:
    return pq.read_table(result.output_dir / "documents").to_pylist()


def test_three_stages_open_with_plain_pyarrow(real_build):
    for stage in STAGES:
        manifest = json.loads((real_build.output_dir / stage / "manifest.json").read_text())
        table = stage_table(real_build, stage)
        assert table.num_rows == manifest["sequences"] > 0
        assert table.schema.field("input_ids").type == pa.list_(pa.int32())
        lengths = {len(row) for row in table.column("input_ids").to_pylist()}
        assert lengths == {manifest["seq_len"] + 1}


def test_stage_sequence_lengths_follow_mimo(real_build):
    assert real_build.manifests["stage-1"]["seq_len"] == 8192
    assert real_build.manifests["stage-3"]["seq_len"] == 32768


def test_accounting_ties_out_at_every_step(real_build):
    check_accounting(real_build.accounting)
    read = real_build.accounting[0]
    dropped = pq.read_table(real_build.output_dir / "dropped")
    assert dropped.num_rows == read["documents_in"] - real_build.accounting[-1]["kept"]
    for manifest in real_build.manifests.values():
        assert manifest["accounting"] == real_build.accounting
        selection = manifest["selection"]
        assert selection["documents_in"] == real_build.accounting[-1]["kept"]
        assert selection["selected"] + sum(selection["not_selected"].values()) == selection["documents_in"]


def test_token_budgets_are_proven_by_the_shards(real_build):
    for stage in STAGES:
        manifest = real_build.manifests[stage]
        table = stage_table(real_build, stage)
        mask_tokens = sum(sum(mask) for mask in table.column("loss_mask").to_pylist())
        assert manifest["tokens_written"] == manifest["tokens_planned"] == mask_tokens
        domains = manifest["domains"]
        assert sum(d["tokens_achieved"] for d in domains.values()) == manifest["tokens_planned"]


def test_stage_mixtures_follow_the_recipe(real_build):
    def share(stage, domains):
        manifest = real_build.manifests[stage]
        return sum(manifest["domains"][d]["tokens_achieved"] for d in domains if d in manifest["domains"]) / manifest["tokens_written"]

    assert "synthetic" not in real_build.manifests["stage-1"]["domains"]
    assert share("stage-2", ["math", "code"]) == pytest.approx(0.70, abs=0.01)
    assert share("stage-3", ["synthetic"]) == pytest.approx(0.10, abs=0.01)
    stage1_sources = real_build.manifests["stage-1"]["sources"]
    assert not any(name.startswith("synthetic") for name in stage1_sources)


def test_known_formula_decodes_from_stage_one(real_build, shared_dir):
    expected = shared_dir / "corpus" / "html_math" / "webkit__mathjax_tex_chtml.expected_inline_formulas.txt"
    formulas = [line.strip() for line in expected.read_text(encoding="utf-8").splitlines() if len(line.strip()) > 12]
    text = decoded_stage_text(real_build, "stage-1")
    found = [formula for formula in formulas if formula in text]
    assert found, f"none of {len(formulas)} long formulas of the MathJax page is in the stage-1 text"


def test_chinese_pages_are_readable_and_tagged_zh(real_build, shared_dir):
    documents = [doc for doc in kept_documents(real_build) if doc["source"] == "chinese"]
    assert len(documents) >= 10
    tagged = [doc for doc in documents if doc["lang"] == "zh"]
    assert len(tagged) >= len(documents) - 3  # a few pages there are code or English tutorials

    gb2312_pages = [doc for doc in documents if "newspaper4k__chinese_article_001" in doc["path"] or "xinhuanet" in doc["path"]]
    assert gb2312_pages
    for doc in gb2312_pages:
        cjk = len(re.findall(r"[\u4e00-\u9fff]", doc["text"]))
        assert cjk > 200, f"{doc['path']}: only {cjk} CJK characters"
        assert "\ufffd" not in doc["text"]


def test_broken_warc_records_are_counted(real_build):
    read = real_build.accounting[0]
    warc_reasons = {reason: count for reason, count in read["dropped"].items() if reason.startswith("warc")}
    assert warc_reasons, read
    dropped = pq.read_table(real_build.output_dir / "dropped").to_pylist()
    broken_files = {Path(row["path"].split("#")[0]).name for row in dropped if row["drop_reason"].startswith("warc")}
    assert any("trunc" in name or "bad" in name for name in broken_files), broken_files


def test_train_lowers_loss_on_stage_shards(real_build, capsys):
    code = cli_main([
        "train", "--shards", str(real_build.output_dir / "stage-1"), "--steps", "50",
        "--seq-len", "128", "--batch-size", "8", "--d-model", "64", "--n-layers", "2", "--lr", "3e-3",
    ])
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    first, final = (float(x) for x in re.findall(r"loss ([\d.]+) -> ([\d.]+)", line)[0])
    assert final < first - 1.0, line


def test_inspect_prints_manifest_and_sample(real_build, capsys):
    assert cli_main(["inspect", str(real_build.output_dir)]) == 0
    out = capsys.readouterr().out
    for stage in STAGES:
        assert f"stage {stage}" in out
    assert "decoded" in out


def test_decontamination_reports_reasoning_overlap(real_build):
    decontam = next(entry for entry in real_build.accounting if entry["step"] == "decontam")
    assert decontam["dropped"].get("benchmark_overlap", 0) > 0
    report = real_build.manifests["stage-3"]["decontamination"]["benchmarks"]
    math_sources = report["math"]["documents_by_source"]
    assert any(source.startswith("synthetic") for source in math_sources), math_sources
    assert report["math"]["items_matched"]


def test_inspect_shows_document_attributes(real_build, capsys):
    assert cli_main(["inspect", str(real_build.output_dir / "documents"), "--sample-docs", "1"]) == 0
    out = capsys.readouterr().out
    assert "stage stage-1" not in out
    for attribute in ("lang", "lang_score", "quality", "reasoning_density", "token_count"):
        assert f"\n{attribute} " in out, attribute
        assert f"  {attribute} = " in out, attribute
