"""WARC and ARC reading on the real test archives of warcio and resiliparse."""

from __future__ import annotations

import gzip
import io
from collections import Counter
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from mimo_data.document import DOCUMENT_SCHEMA, documents_from_rows, make_doc_id
from mimo_data.io import list_inputs, read_file

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
WARC_DIR = SHARED / "corpus" / "warc"

# Per file: (kept documents, URL of one kept page or None, drop reasons that must appear).
EXPECTED = {
    "resiliparse__block-sized-records.warc.gz": (0, None, {"warc_non_document_record"}),
    "resiliparse__clueweb-quirk.warc.gz": (
        29, "http://www.uraharajuku.st/shopdetail/001005000005/019/000/order/", {"warc_non_document_record"}),
    "resiliparse__warcfile.warc.gz": (16, "http://01spb.ru/company/", {"warc_non_document_record"}),
    "warcio__bad.arc": (0, None, {"warc_http_headers_missing"}),
    "warcio__example-bad-non-chunked.warc.gz": (0, None, {"warc_rest_unreadable"}),
    "warcio__example-digest.warc": (0, None, {"warc_non_document_record"}),
    "warcio__example-iana.org-chunked.warc": (1, "http://www.iana.org/", {"warc_non_document_record"}),
    "warcio__example-resource.warc.gz": (1, "http://example.com/", {"warc_non_document_record"}),
    "warcio__example-space-in-target-uri.warc.gz": (0, None, {"warc_not_html"}),
    "warcio__example-trunc.warc": (1, "http://example.com/", {"warc_non_document_record"}),
    "warcio__example-wget-bad-target-uri.warc.gz": (1, "http://example.com/", {"warc_not_html"}),
    "warcio__example.arc": (1, "http://example.com/", {"warc_non_document_record"}),
    "warcio__example.arc.gz": (1, "http://example.com/", {"warc_non_document_record"}),
    "warcio__example.warc": (1, "http://example.com/", {"warc_non_document_record"}),
    "warcio__post-test.warc.gz": (0, None, {"warc_not_html"}),
}


def _read(path: Path | str) -> list[dict]:
    return list(read_file("warc", str(path), source="crawl", domain="web"))


def _kept(rows: list[dict]) -> list[dict]:
    return [row for row in rows if row["drop_reason"] is None]


def test_corpus_folder_lists_every_archive():
    files = list_inputs("warc", str(WARC_DIR))

    assert sorted(Path(name).name for name in files) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_archive_rows(name):
    kept_count, url, reasons = EXPECTED[name]
    path = WARC_DIR / name

    rows = _read(path)
    kept = _kept(rows)

    assert rows, f"{name} yielded no rows"
    assert len(kept) == kept_count
    assert reasons <= {row["drop_reason"] for row in rows}
    if url is not None:
        assert url in {row["url"] for row in kept}
    for row in rows:
        assert set(row) == set(DOCUMENT_SCHEMA.names)
        assert row["path"].startswith(f"{path}#")
        assert row["id"] == make_doc_id("crawl", row["path"])
        assert row["format"] == "warc"
        assert row["domain"] == "web"
        assert row["text"] is None
    for row in kept:
        assert row["content"], f"{row['path']} kept with an empty payload"
        media_type = row["content_type"].split(";")[0].strip().lower()
        assert media_type in {"text/html", "application/xhtml+xml"}
    for row in rows:
        if row["drop_reason"] is not None:
            assert row["drop_step"] == "read"
            assert row["content"] is None
    assert len({row["id"] for row in rows}) == len(rows)


def test_example_warc_page_content():
    rows = _read(WARC_DIR / "warcio__example.warc")

    page = _kept(rows)[0]
    types = Counter(row["drop_reason"] for row in rows)

    # Content-Encoding gzip is decoded: the bytes are the HTML page itself.
    assert page["content"].lstrip().lower().startswith(b"<!doctype html>")
    assert b"<title>Example Domain</title>" in page["content"]
    assert page["path"].endswith("#offset=1197")
    # 2 warcinfo, 2 request and 1 revisit record are counted, not lost.
    assert types == Counter({"warc_non_document_record": 5, None: 1})


def test_chunked_iana_page_decoded():
    page = _kept(_read(WARC_DIR / "warcio__example-iana.org-chunked.warc"))[0]

    assert b"Internet Assigned Numbers Authority" in page["content"]
    # The raw body starts with the chunk size line "001c37", not with the page.
    assert page["content"].startswith(b"<!doctype html>")
    assert page["content"].rstrip().endswith(b"</html>")


def test_arc_and_arc_gz_yield_same_page():
    plain = _kept(_read(WARC_DIR / "warcio__example.arc"))[0]
    gzipped = _kept(_read(WARC_DIR / "warcio__example.arc.gz"))[0]

    assert plain["content"] == gzipped["content"]
    assert b"Example Domain" in plain["content"]


def test_wget_target_uri_brackets_removed():
    rows = _read(WARC_DIR / "warcio__example-wget-bad-target-uri.warc.gz")

    urls = {row["url"] for row in rows if row["url"] is not None}

    assert not any(url.startswith("<") for url in urls)


def test_table_from_corpus_rows():
    rows = [row for name in sorted(EXPECTED) for row in _read(WARC_DIR / name)]

    table = documents_from_rows(rows)

    assert table.schema.equals(DOCUMENT_SCHEMA)
    assert table.num_rows == len(rows)


# (bytes kept, reason of the last row, its locator). A cut inside a record header
# or a gzip member gives an "unread_from" row. The cut at 12000 falls inside a
# metadata record, which is no document, so no page is lost there.
CUTS = [
    (60, "warc_truncated", "#unread_from=0"),
    (941, "warc_truncated", "#unread_from=940"),
    (12000, "warc_non_document_record", "#offset=11845"),
    (50000, "warc_truncated", "#offset=48321"),
    (90000, "warc_truncated", "#offset=87298"),
    (120000, "warc_truncated", "#unread_from=119989"),
]


@pytest.mark.parametrize(("cut_bytes", "last_reason", "last_locator"), CUTS)
def test_truncated_gzip_archive_counts_rest(tmp_path, cut_bytes, last_reason, last_locator):
    full_path = WARC_DIR / "resiliparse__warcfile.warc.gz"
    cut_path = tmp_path / "cut.warc.gz"
    cut_path.write_bytes(full_path.read_bytes()[:cut_bytes])

    rows = _read(cut_path)
    full_pages = {row["path"].split("#")[1]: row["content"] for row in _kept(_read(full_path))}

    assert rows[-1]["drop_reason"] == last_reason
    assert rows[-1]["path"] == f"{cut_path}{last_locator}"
    assert sum(row["drop_reason"] == "warc_truncated" for row in rows) <= 1
    # Every page kept from the cut file is whole: the same bytes as in the full file.
    for row in _kept(rows):
        assert row["content"] == full_pages[row["path"].split("#")[1]]


def test_cut_inside_response_is_truncated(tmp_path):
    data = (WARC_DIR / "resiliparse__warcfile.warc.gz").read_bytes()
    path = tmp_path / "cut.warc.gz"
    # The response record at offset 48321 is about 12 KB compressed.
    path.write_bytes(data[:50000])

    rows = _read(path)

    assert rows[-1]["drop_reason"] == "warc_truncated"
    assert rows[-1]["path"].endswith("#offset=48321")
    assert rows[-1]["url"] == "http://044545.com/topic/20200207/015849.html"


def test_cut_inside_uncompressed_record(tmp_path):
    data = (WARC_DIR / "warcio__example.warc").read_bytes()
    path = tmp_path / "cut.warc"
    path.write_bytes(data[:2000])

    rows = _read(path)

    assert [row["drop_reason"] for row in rows][-1] == "warc_truncated"
    assert not _kept(rows)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.warc"
    empty.write_bytes(b"")

    empty_rows = _read(empty)
    missing_rows = _read(tmp_path / "absent.warc.gz")

    assert [row["drop_reason"] for row in empty_rows] == ["file_empty"]
    assert [row["drop_reason"] for row in missing_rows] == ["file_unreadable"]


def _write_response(writer: WARCWriter, uri: str, body: bytes, headers: list, status: str = "200 OK"):
    http_headers = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
    record = writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=http_headers)
    writer.write_record(record)


def test_response_classification(tmp_path):
    path = tmp_path / "mixed.warc.gz"
    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        html = [("Content-Type", "text/html; charset=utf-8")]
        _write_response(writer, "http://a.test/", b"<html><p>kept</p></html>", html)
        _write_response(writer, "http://b.test/", b"<html>moved</html>", html, status="301 Moved Permanently")
        _write_response(writer, "http://c.test/", b'{"a": 1}', [("Content-Type", "application/json")])
        _write_response(writer, "http://d.test/", b"", html)
        _write_response(writer, "http://e.test/", b"<!DOCTYPE html><p>no header</p>", [])
        _write_response(writer, "http://f.test/", b"plain words", [])
        gzipped = gzip.compress(b"<html><p>gzip body</p></html>", mtime=0)
        _write_response(writer, "http://g.test/", gzipped, html + [("Content-Encoding", "gzip")])
        _write_response(writer, "http://h.test/", b"<html/>", [("Content-Type", "application/xhtml+xml")])

    rows = {row["url"]: row for row in _read(path)}

    assert rows["http://a.test/"]["drop_reason"] is None
    assert rows["http://a.test/"]["content_type"] == "text/html; charset=utf-8"
    assert rows["http://b.test/"]["drop_reason"] == "warc_http_status_not_ok"
    assert rows["http://c.test/"]["drop_reason"] == "warc_not_html"
    assert rows["http://d.test/"]["drop_reason"] == "warc_empty_payload"
    assert rows["http://e.test/"]["drop_reason"] is None
    assert rows["http://f.test/"]["drop_reason"] == "warc_not_html"
    assert rows["http://g.test/"]["content"] == b"<html><p>gzip body</p></html>"
    assert rows["http://h.test/"]["drop_reason"] is None


def test_ids_stable_across_reads():
    path = WARC_DIR / "resiliparse__warcfile.warc.gz"

    first = [row["id"] for row in _read(path)]
    second = [row["id"] for row in _read(path)]

    assert first == second
