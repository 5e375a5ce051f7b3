"""The `mimo-data` console script as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MIMO_DATA = str(Path(sys.executable).parent / "mimo-data")
COMMANDS = ["build", "extract", "inspect", "train", "sample-corpus"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MIMO_DATA, *args], capture_output=True, text=True, timeout=300)


def extract(*paths: Path) -> list[dict]:
    result = run("extract", *map(str, paths))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_for_each_command(command):
    result = run(command, "--help")
    assert result.returncode == 0
    assert "usage: mimo-data " + command in result.stdout


def test_extract_html_keeps_math(shared_dir):
    page = shared_dir / "corpus" / "html_math" / "webkit__mathjax_tex_chtml.html"
    [doc] = extract(page)
    assert doc["source"] == str(page)
    assert doc["format"] == "html"
    assert doc["id"] and doc["drop_reason"] is None
    assert "$" in doc["text"]


def test_extract_html_gz(shared_dir):
    page = sorted((shared_dir / "corpus" / "html_general" / "scrapinghub_aeb" / "html").glob("*.html.gz"))[0]
    [doc] = extract(page)
    assert doc["format"] == "html"
    assert len(doc["text"]) > 200


def test_extract_pdf(shared_dir):
    [doc] = extract(shared_dir / "corpus" / "pdf" / "docling__code_and_formula.pdf")
    assert doc["format"] == "pdf"
    assert len(doc["text"]) > 200


def test_extract_warc_gives_one_object_per_record(shared_dir):
    docs = extract(shared_dir / "corpus" / "warc" / "warcio__example.warc")
    assert docs and all(doc["format"] == "warc" for doc in docs)
    kept = [doc for doc in docs if doc["drop_reason"] is None]
    assert kept and all(doc["url"] for doc in kept)
    assert len({doc["id"] for doc in docs}) == len(docs)


def test_extract_ids_are_deterministic(shared_dir):
    page = shared_dir / "corpus" / "html_code" / "webkit__prismjs.html"
    assert extract(page)[0]["id"] == extract(page)[0]["id"]


def test_extract_unknown_extension_is_an_error(tmp_path):
    path = tmp_path / "notes.docx"
    path.write_bytes(b"x")
    result = run("extract", str(path))
    assert result.returncode == 2
    assert "unknown file type" in result.stderr


def test_build_rejects_invalid_pipeline_before_work(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsources: []\nstages: []\nsurprise: 1\n")
    result = run("build", str(path))
    assert result.returncode == 2
    assert "pipeline.surprise: unknown key" in result.stderr


def test_documents_dir_ignores_stage_shards(tmp_path):
    from mimo_data.inspect import documents_dir

    stage = tmp_path / "out" / "stage-1"
    documents = tmp_path / "out" / "documents"
    for folder in (stage, documents):
        folder.mkdir(parents=True)
        (folder / "part-00000.parquet").write_bytes(b"PAR1")

    assert documents_dir(stage) is None
    assert documents_dir(tmp_path / "out") == documents
    assert documents_dir(documents) == documents


def test_extract_missing_path_is_error(tmp_path, capsys):
    from mimo_data.cli import main

    assert main(["extract", str(tmp_path / "missing.html")]) == 2
    assert "missing.html: file not found" in capsys.readouterr().err
    assert main(["extract", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    assert "missing: not found" in capsys.readouterr().err
