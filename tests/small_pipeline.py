"""A small pipeline over files a test writes plus a few real pages, and helpers to compare build outputs.

Shared by the resume, determinism and cluster tests. ``unit_records`` is small so that
the JSONL, Parquet and WARC inputs are each cut into several units.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from mimo_data.sample_corpus import write_sample_corpus

BIN = Path(sys.executable).parent
SAMPLE_WEB_PAGES = 12
JSONL_LINES = 28  # of the 40 synthetic responses; the rest go to the Parquet file
UNIT_RECORDS = 6
# Ray 2.60 enables token authentication for `ray start`; the test clusters run without it.
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


def write_small_pipeline(folder: Path, shared_dir: Path, *, num_cpus: int = 2, max_actors: int = 1) -> Path:
    """Write the inputs and pipeline YAML under ``folder``; return the YAML path."""
    corpus = folder / "corpus"
    if not corpus.exists():
        _write_inputs(corpus)
    shared_html = shared_dir / "corpus" / "html_general" / "scrapinghub_aeb" / "html"
    shared_warc = shared_dir / "corpus" / "warc" / "warcio__example-trunc.warc"
    pipeline = {
        "name": "small",
        "seed": 3,
        "rows_per_shard": 8,
        "ray": {"num_cpus": num_cpus, "max_actors_per_step": max_actors, "unit_records": UNIT_RECORDS},
        "sources": [
            {"name": "web", "format": "html", "path": str(corpus / "web"), "domain": "web"},
            {"name": "real_pages", "format": "html", "path": str(shared_html / "0[0-6]*.html.gz"), "domain": "web"},
            {"name": "crawl", "format": "warc", "path": str(corpus / "crawl.warc.gz"), "domain": "web"},
            {"name": "broken_crawl", "format": "warc", "path": str(shared_warc), "domain": "web"},
            {"name": "papers", "format": "pdf", "path": str(corpus / "pdf"), "domain": "web"},
            {"name": "responses", "format": "jsonl", "path": str(corpus / "responses.jsonl"), "domain": "synthetic"},
            {"name": "responses_table", "format": "parquet", "path": str(corpus / "responses.parquet"),
             "domain": "synthetic"},
        ],
        "stages": [
            {"name": "stage-1", "seq_len": 128, "tokens_target": 3000, "weights": {"web": 0.7, "synthetic": 0.3}},
            {"name": "stage-2", "seq_len": 256, "tokens_target": 3000, "weights": {"web": 0.4, "synthetic": 0.6}},
        ],
    }
    path = folder / f"pipeline-{num_cpus}cpu.yaml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return path


def _write_inputs(corpus: Path) -> None:
    sample = corpus.parent / "sample"
    write_sample_corpus(sample)
    (corpus / "web").mkdir(parents=True)
    for page in sorted((sample / "web").iterdir())[:SAMPLE_WEB_PAGES]:
        shutil.copy(page, corpus / "web" / page.name)
    shutil.copy(sample / "crawl.warc.gz", corpus / "crawl.warc.gz")
    (corpus / "pdf").mkdir()
    first_pdf = sorted((sample / "pdf").glob("*.pdf"))[0]
    shutil.copy(first_pdf, corpus / "pdf" / first_pdf.name)

    lines = (sample / "synthetic" / "responses.jsonl").read_text(encoding="utf-8").splitlines()
    (corpus / "responses.jsonl").write_text("\n".join(lines[:JSONL_LINES]) + "\n", encoding="utf-8")
    records = [json.loads(line) for line in lines[JSONL_LINES:]]
    table = pa.table({"text": [record["text"] for record in records]})
    pq.write_table(table, corpus / "responses.parquet", row_group_size=4)
    shutil.rmtree(sample)


def run_build(pipeline: Path, output: Path, *extra: str, env: dict | None = None, **popen) -> subprocess.Popen:
    """Start ``mimo-data build`` as a subprocess that logs at INFO level to ``output``.log."""
    log = open(output.with_suffix(".log"), "ab")
    return subprocess.Popen(
        [str(BIN / "mimo-data"), "build", str(pipeline), "--output", str(output), "--verbose", *extra],
        stdout=log, stderr=subprocess.STDOUT, env=env or RAY_ENV, **popen,
    )


def output_files(output: Path) -> dict[str, bytes]:
    """Return every file the build publishes, plus its committed units, by path relative to ``output``.

    The staging folder of stages in progress is left out.
    """
    files = {}
    for path in sorted(output.rglob("*")):
        relative = path.relative_to(output)
        if path.is_file() and relative.parts[:2] != ("_work", "stages"):
            files[relative.as_posix()] = path.read_bytes()
    return files


def assert_same_outputs(expected: Path, actual: Path) -> None:
    """Assert that two build outputs hold the same files with the same bytes."""
    expected_files, actual_files = output_files(expected), output_files(actual)
    assert sorted(actual_files) == sorted(expected_files)
    assert any(name.endswith("manifest.json") for name in expected_files)
    assert any(name.startswith("_work/units/") for name in expected_files)
    differing = [name for name in expected_files if expected_files[name] != actual_files[name]]
    assert differing == []
