"""HTML, PDF, JSONL and Parquet readers and input listing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mimo_data.document import DOCUMENT_SCHEMA, documents_from_rows, make_doc_id
from mimo_data.io import FORMATS, InputError, list_inputs, read_file

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
AEB_HTML = SHARED / "corpus" / "html_general" / "scrapinghub_aeb" / "html"
PDF_DIR = SHARED / "corpus" / "pdf"
REASONING = SHARED / "reasoning"


def _rows(fmt: str, path: Path | str, **options) -> list[dict]:
    return list(read_file(fmt, str(path), source="src", **options))


def _reasons(rows: list[dict]) -> list[str | None]:
    return [row["drop_reason"] for row in rows]


# --- list_inputs -------------------------------------------------------------


def test_list_folder_recursive(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ["a/one.html", "a/b/two.HTM", "a/b/three.html.gz", "a/notes.txt", "z.pdf"]:
        (tmp_path / name).write_bytes(b"x")

    files = list_inputs("html", str(tmp_path))

    assert files == sorted(str(tmp_path / name) for name in ["a/b/three.html.gz", "a/b/two.HTM", "a/one.html"])


def test_list_glob_filters_extensions(tmp_path):
    for name in ["x.jsonl", "y.jsonl.gz", "README.md"]:
        (tmp_path / name).write_bytes(b"")

    files = list_inputs("jsonl", str(tmp_path / "*"))

    assert [Path(name).name for name in files] == ["x.jsonl", "y.jsonl.gz"]


def test_list_single_file_kept_as_named(tmp_path):
    path = tmp_path / "records.txt"
    path.write_text("{}\n")

    assert list_inputs("jsonl", str(path)) == [str(path)]


def test_list_corpus_html_gz():
    files = list_inputs("html", str(AEB_HTML))

    assert len(files) == 119
    assert all(name.endswith(".html.gz") for name in files)


def test_list_errors_name_path_and_extensions(tmp_path):
    (tmp_path / "page.html").write_bytes(b"<p>")

    with pytest.raises(InputError, match=r"\.warc\.gz") as no_match:
        list_inputs("warc", str(tmp_path))
    with pytest.raises(InputError, match="does not exist"):
        list_inputs("html", str(tmp_path / "absent"))
    with pytest.raises(InputError, match="unknown input format 'csv'"):
        list_inputs("csv", str(tmp_path))
    with pytest.raises(InputError, match="unknown input format"):
        read_file("csv", str(tmp_path / "page.html"), source="src")

    assert str(tmp_path) in str(no_match.value)
    assert set(FORMATS) == {"warc", "html", "pdf", "jsonl", "parquet"}


# --- HTML ------------------------------------------------------------------


def test_corpus_html_gz_all_kept():
    files = list_inputs("html", str(AEB_HTML))

    rows = [row for path in files for row in _rows("html", path, domain="web")]

    assert len(rows) == len(files)
    assert _reasons(rows) == [None] * len(files)
    for path, row in zip(files, rows):
        assert row["id"] == make_doc_id("src", path)
        assert row["path"] == path
        assert row["format"] == "html"
        assert row["domain"] == "web"
        # Gunzipped: the gzip magic 1f 8b is gone and HTML markup is visible.
        assert not row["content"].startswith(b"\x1f\x8b")
        assert b"<" in row["content"][:2000]
    assert documents_from_rows(rows).schema.equals(DOCUMENT_SCHEMA)


def test_html_gzip_corrupt_and_cut(tmp_path):
    good = gzip.compress(b"<html><p>whole page</p></html>" * 50, mtime=0)
    (tmp_path / "notgzip.html.gz").write_bytes(b"<html>plain bytes, named .gz</html>")
    (tmp_path / "cut.html.gz").write_bytes(good[: len(good) // 2])
    (tmp_path / "good.html.gz").write_bytes(good)

    assert _reasons(_rows("html", tmp_path / "notgzip.html.gz")) == ["html_gzip_corrupt"]
    assert _reasons(_rows("html", tmp_path / "cut.html.gz")) == ["html_gzip_corrupt"]
    assert _rows("html", tmp_path / "good.html.gz")[0]["content"].startswith(b"<html><p>whole page")


def test_html_empty_and_missing(tmp_path):
    (tmp_path / "blank.html").write_bytes(b"  \n")

    blank = _rows("html", tmp_path / "blank.html")
    missing = _rows("html", tmp_path / "absent.html")

    assert _reasons(blank) == ["file_empty"]
    assert blank[0]["drop_step"] == "read"
    assert _reasons(missing) == ["file_unreadable"]


# --- PDF -------------------------------------------------------------------


def test_corpus_pdfs_kept_with_bytes():
    files = list_inputs("pdf", str(PDF_DIR))

    rows = [row for path in files for row in _rows("pdf", path)]

    assert len(files) >= 15
    assert _reasons(rows) == [None] * len(files)
    for path, row in zip(files, rows):
        assert row["content"] == Path(path).read_bytes()
        assert row["content_type"] == "application/pdf"


def test_pdf_without_header_dropped(tmp_path):
    (tmp_path / "fake.pdf").write_bytes(b"<html>not a pdf</html>")
    (tmp_path / "empty.pdf").write_bytes(b"")

    assert _reasons(_rows("pdf", tmp_path / "fake.pdf")) == ["pdf_header_missing"]
    assert _reasons(_rows("pdf", tmp_path / "empty.pdf")) == ["file_empty"]


# --- JSONL -----------------------------------------------------------------

# Where each reasoning file keeps its model response: none has a top-level "text".
REASONING_TEXT_FIELDS = {
    "deepseekmath_v2_CMO2024.jsonl": "model_prediction.proof",
    "qwen25math_math_cot_100x8.jsonl": "response.0",
    "skyt1_27b_math500.jsonl": "code.0",
}


@pytest.mark.parametrize("name", sorted(REASONING_TEXT_FIELDS))
def test_reasoning_responses_read(name):
    path = REASONING / name
    line_count = sum(1 for line in path.read_bytes().splitlines() if line.strip())

    rows = _rows("jsonl", path, text_column=REASONING_TEXT_FIELDS[name], domain="synthetic")
    top_level = _rows("jsonl", path)

    assert len(rows) == line_count
    assert _reasons(rows) == [None] * line_count
    assert all(row["text"].strip() for row in rows)
    assert rows[0]["path"] == f"{path}#line=1"
    assert rows[-1]["path"] == f"{path}#line={line_count}"
    assert _reasons(top_level) == ["jsonl_missing_text"] * line_count


def test_reasoning_text_matches_json():
    path = REASONING / "qwen25math_math_cot_100x8.jsonl"
    first_record = json.loads(path.read_text(encoding="utf-8").splitlines()[0])

    row = _rows("jsonl", path, text_column="response.0")[0]

    assert row["text"] == first_record["response"][0]
    assert row["content"] is None


def test_jsonl_bad_lines_counted(tmp_path):
    lines = [
        b'{"text": "first document", "url": "https://a.test/1"}',
        b"",
        b'{"text": "broken',
        b"[1, 2]",
        b'{"title": "no text field"}',
        b'{"text": null}',
        b'{"text": 42}',
        b'{"text": "caf\xe9 in latin-1"}',
        b'{"text": "last document", "url": 7}',
        b"   ",
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    rows = _rows("jsonl", path)

    assert _reasons(rows) == [
        None,
        "jsonl_invalid_json",
        "jsonl_not_object",
        "jsonl_missing_text",
        "jsonl_missing_text",
        "jsonl_text_not_string",
        "jsonl_invalid_utf8",
        None,
    ]
    assert [row["path"].rsplit("#", 1)[1] for row in rows] == [f"line={n}" for n in (1, 3, 4, 5, 6, 7, 8, 9)]
    assert rows[0]["url"] == "https://a.test/1"
    assert rows[0]["text"] == "first document"
    assert rows[-1]["url"] is None
    assert len({row["id"] for row in rows}) == len(rows)


def test_jsonl_joined_fields(tmp_path):
    path = tmp_path / "qa.jsonl"
    lines = [
        {"question": "What is 2 + 3?", "answers": ["5", "6"], "meta": {"source": "x"}},
        {"question": "No answers here."},
        {"question": "Nested?", "answers": [{"value": "7"}]},
        {"question+answers": "a key with a plus sign"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    rows = _rows("jsonl", path, text_column="question+answers.0")

    assert rows[0]["text"] == "What is 2 + 3?\n\n5"
    assert rows[1]["drop_reason"] == "jsonl_missing_text"
    assert rows[2]["drop_reason"] == "jsonl_text_not_string"
    assert _rows("jsonl", path, text_column="question+answers")[3]["text"] == "a key with a plus sign"


def test_reasoning_question_and_proof():
    path = REASONING / "deepseekmath_v2_IMO2025.jsonl"
    first_record = json.loads(path.read_text(encoding="utf-8").splitlines()[0])

    row = _rows("jsonl", path, text_column="question+model_prediction.proof")[0]
    whole_object = _rows("jsonl", path, text_column="question+model_prediction")[0]

    assert row["text"] == first_record["question"] + "\n\n" + first_record["model_prediction"]["proof"]
    assert whole_object["drop_reason"] == "jsonl_text_not_string"


def test_jsonl_utf8_bom_first_line(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "after a byte order mark"}\n{"text": "second"}\n')

    rows = _rows("jsonl", path)

    assert [row["text"] for row in rows] == ["after a byte order mark", "second"]


def test_jsonl_gz_and_cut_gz(tmp_path):
    payload = b"".join(json.dumps({"text": f"document {n} " * 20}).encode() + b"\n" for n in range(200))
    compressed = gzip.compress(payload, mtime=0)
    (tmp_path / "whole.jsonl.gz").write_bytes(compressed)
    (tmp_path / "cut.jsonl.gz").write_bytes(compressed[: len(compressed) // 2])

    whole = _rows("jsonl", tmp_path / "whole.jsonl.gz")
    cut = _rows("jsonl", tmp_path / "cut.jsonl.gz")

    assert _reasons(whole) == [None] * 200
    assert cut[-1]["drop_reason"] in {"jsonl_truncated", "jsonl_invalid_json"}
    assert any(row["drop_reason"] == "jsonl_truncated" for row in cut)
    assert all(row["drop_reason"] is None for row in cut[:-2])


# --- Parquet ---------------------------------------------------------------


def _write_parquet(path: Path, table: pa.Table, row_group_size: int = 2) -> None:
    pq.write_table(table, path, row_group_size=row_group_size)


def test_parquet_rows_across_row_groups(tmp_path):
    table = pa.table({
        "body": ["alpha", None, "gamma", "delta", "epsilon"],
        "url": ["https://x.test/a", None, "https://x.test/c", None, "https://x.test/e"],
    })
    path = tmp_path / "docs.parquet"
    _write_parquet(path, table)

    rows = _rows("parquet", path, text_column="body", domain="web")

    assert [row["text"] for row in rows] == ["alpha", None, "gamma", "delta", "epsilon"]
    assert _reasons(rows) == [None, "parquet_missing_text", None, None, None]
    assert [row["path"] for row in rows] == [f"{path}#row={n}" for n in range(5)]
    assert rows[2]["url"] == "https://x.test/c"
    assert rows[0]["domain"] == "web"


def test_parquet_without_url_column(tmp_path):
    path = tmp_path / "docs.parquet"
    _write_parquet(path, pa.table({"text": ["one", "two"]}))

    rows = _rows("parquet", path)

    assert [row["url"] for row in rows] == [None, None]
    assert [row["text"] for row in rows] == ["one", "two"]


def test_parquet_text_column_errors_before_rows(tmp_path):
    path = tmp_path / "docs.parquet"
    _write_parquet(path, pa.table({"content": ["one"], "score": [1]}))

    with pytest.raises(InputError, match=r"no column 'text'.*\['content', 'score'\]"):
        read_file("parquet", str(path), source="src")
    with pytest.raises(InputError, match="expected a string column"):
        read_file("parquet", str(path), source="src", text_column="score")


def test_parquet_corrupt_file_dropped(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not a parquet file")

    assert _reasons(_rows("parquet", path)) == ["file_unreadable"]
