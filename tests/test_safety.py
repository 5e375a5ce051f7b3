"""Safety of config loading and clear errors for `mimo-data build` before any work starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mimo_data.config import ConfigError, load_pipeline, parse_pipeline

MIMO_DATA = str(Path(sys.executable).parent / "mimo-data")


def minimal_pipeline(pages: str = "pages") -> dict:
    return {
        "name": "safety",
        "sources": [{"name": "web", "format": "html", "path": pages}],
        "stages": [{"name": "stage-1", "seq_len": 64, "tokens_target": 1000, "weights": {"web": 1.0}}],
    }


def write_pipeline(folder: Path, raw: dict) -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def run_build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MIMO_DATA, "build", *args], capture_output=True, text=True, timeout=300)


def test_yaml_python_tags_are_not_executed(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.yaml"
    path.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\n', encoding="utf-8")

    with pytest.raises(ConfigError, match="invalid YAML"):
        load_pipeline(path)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../outside", "a/b", "..", "", "a\\b"])
def test_stage_name_cannot_leave_output_folder(name):
    raw = minimal_pipeline()
    raw["stages"][0]["name"] = name

    with pytest.raises(ConfigError, match=r"stages\[0\]\.name: must be a plain folder name"):
        parse_pipeline(raw)


def test_build_missing_input_path_is_one_line_error(tmp_path):
    pipeline = write_pipeline(tmp_path, minimal_pipeline("no-such-folder"))

    result = run_build(str(pipeline), "--output", str(tmp_path / "out"))

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "source 'web'" in result.stderr
    assert "does not exist" in result.stderr
    assert not (tmp_path / "out").exists()


def test_build_unwritable_output_is_one_line_error(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "a.html").write_text("<p>hello</p>", encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    pipeline = write_pipeline(tmp_path, minimal_pipeline())

    # A regular file where a parent folder should be, because permission bits do
    # not stop root, which may run the tests.
    result = run_build(str(pipeline), "--output", str(blocker / "out"))

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "is not writable" in result.stderr


def test_build_unknown_source_is_one_line_error(tmp_path):
    raw = minimal_pipeline()
    raw["stages"][0]["exclude_sources"] = ["crawl"]
    pipeline = write_pipeline(tmp_path, raw)

    result = run_build(str(pipeline))

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "unknown source 'crawl'" in result.stderr


def test_write_dropped_flag_in_help():
    result = run_build("--help")

    assert "--write-dropped" in result.stdout
    assert "--no-write-dropped" in result.stdout


def test_pdf_javascript_and_attachment_not_extracted():
    import pymupdf

    from mimo_data.extract import extract_pdf

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Visible body text of the only page.")
    doc.embfile_add("attached.txt", b"ATTACHMENT-MARKER-5521 inside an embedded file")
    script = doc.get_new_xref()
    doc.update_object(script, "<< /S /JavaScript /JS (app.alert('SCRIPT-MARKER-9913');) >>")
    doc.xref_set_key(doc.pdf_catalog(), "OpenAction", f"{script} 0 R")
    content = doc.tobytes()

    text = extract_pdf(content).text

    assert b"/JavaScript" in content
    assert "Visible body text" in text
    assert "SCRIPT-MARKER" not in text
    assert "ATTACHMENT-MARKER" not in text


def test_html_script_text_not_extracted():
    from mimo_data.extract import html_to_markdown

    page = (
        "<html><head><script>document.write('SCRIPT-MARKER-1207')</script></head><body><article>"
        "<p>The article body explains how a hash table resolves collisions by chaining entries.</p>"
        "<p>Each bucket keeps a short list, and lookups walk that list until the key matches.</p>"
        "<script>fetch('http://127.0.0.1:9/steal?SCRIPT-MARKER-3344')</script>"
        "<img src=x onerror=\"alert('HANDLER-MARKER-8080')\"></article></body></html>"
    )

    text = html_to_markdown(page)

    assert "hash table resolves collisions" in text
    assert "SCRIPT-MARKER" not in text
    assert "HANDLER-MARKER" not in text


def test_infeasible_stage_writes_nothing(ray_session, shared_dir, tmp_path, capsys):
    from mimo_data.cli import main as cli_main
    from small_pipeline import write_small_pipeline

    pipeline = write_small_pipeline(tmp_path, shared_dir)
    raw = yaml.safe_load(pipeline.read_text())
    raw["stages"][1].update(tokens_target=50_000_000, max_epochs=1.0)
    pipeline.write_text(yaml.safe_dump(raw, sort_keys=False))
    output = tmp_path / "out"

    code = cli_main(["build", str(pipeline), "--output", str(output)])

    error = capsys.readouterr().err
    assert code == 2
    assert "mimo-data build: error: stage stage-2:" in error
    assert not (output / "stage-1").exists()
    assert not (output / "documents").exists()
    assert not (output / "dropped").exists()


def test_build_unknown_tokenizer_is_one_line_error(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "a.html").write_text("<html><body><p>Some text.</p></body></html>", encoding="utf-8")
    pipeline = write_pipeline(tmp_path, {**minimal_pipeline(), "tokenizer": "no-such-tokenizer"})

    result = run_build(str(pipeline), "--output", str(tmp_path / "out"))

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "tokenizer 'no-such-tokenizer'" in result.stderr
    assert not (tmp_path / "out" / "_work").exists()
