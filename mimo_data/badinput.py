"""Write a corpus of broken and hostile inputs, with a pipeline YAML and the drop reason each file should get.

The files are generated from a seed, so tests and benchmarks/reliability.py write
them on the fly and the repository contains no bad data. Each bad file has exactly one
expected outcome in ``BadInputCorpus.expected``:

- ``("read", reason)`` or ``("extract", reason)``: at least one row of the file is
  dropped at that step with that reason (single-document files have only one row);
- ``PASSES_EXTRACTION``: the file is decoded and extracted, whatever later filters
  decide. Wrong and mixed encodings belong here, because decoding replaces bad bytes
  instead of failing.

A few well-formed pages and JSONL lines are mixed in, so the stages have documents
to pack.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf
import yaml
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from mimo_data.sample_corpus import _english_article, _page_html, _paragraphs_html

PASSES_EXTRACTION = ("extract", None)

# Depth of the nested-HTML file: far above libxml2's limit of 256 levels.
NESTED_HTML_LEVELS = 10_000

# Size of the huge HTML file: five times the default html_max_bytes of 20 MB.
HUGE_HTML_BYTES = 100_000_000

GOOD_PAGES = 4

# A URL that would leave the output folder if any step turned URLs into file names.
HOSTILE_URL = "file:///../../../../tmp/mimo-escape/../../etc/passwd"
FIXED_WARC_DATE = "2024-05-01T12:00:00Z"


@dataclass
class BadInputCorpus:
    """The folder of a written corpus, its pipeline YAML and the outcome expected for each bad file."""

    root: Path
    pipeline: Path  # a pipeline YAML over every file of the corpus
    expected: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # file path -> (step, reason)


def write_bad_input_corpus(root: str | Path, *, shared_warc_dir: str | Path | None = None,
                           huge_html: bool = False, seed: int = 0) -> BadInputCorpus:
    """Write the bad-input corpus under ``root`` and return its pipeline and expectations.

    ``shared_warc_dir`` adds a folder of real (partly broken) WARC files as one more
    source. ``huge_html`` adds a 100 MB HTML file, which takes about a second to write.
    """
    root = Path(root)
    rng = random.Random(seed)
    corpus = BadInputCorpus(root=root, pipeline=root / "pipeline.yaml")
    for folder in ("html", "pdf", "warc", "jsonl"):
        (root / folder).mkdir(parents=True, exist_ok=True)

    _write_html_files(root / "html", rng, corpus.expected, huge_html=huge_html)
    _write_pdf_files(root / "pdf", rng, corpus.expected)
    _write_warc_files(root / "warc", rng, corpus.expected)
    _write_jsonl_file(root / "jsonl" / "broken-lines.jsonl", rng, corpus.expected)
    if shared_warc_dir is not None:
        shared = Path(shared_warc_dir)
        corpus.expected[str(shared / "warcio__bad.arc")] = ("read", "warc_http_headers_missing")
        corpus.expected[str(shared / "warcio__example-bad-non-chunked.warc.gz")] = ("read", "warc_rest_unreadable")

    corpus.pipeline.write_text(yaml.safe_dump(_pipeline(root, shared_warc_dir), sort_keys=False), encoding="utf-8")
    return corpus


def _pipeline(root: Path, shared_warc_dir: str | Path | None) -> dict:
    sources = [
        {"name": "pages", "format": "html", "path": str(root / "html"), "domain": "web"},
        {"name": "papers", "format": "pdf", "path": str(root / "pdf"), "domain": "web"},
        {"name": "crawl", "format": "warc", "path": str(root / "warc"), "domain": "web"},
        {"name": "responses", "format": "jsonl", "path": str(root / "jsonl"), "domain": "web"},
    ]
    if shared_warc_dir is not None:
        sources.append({"name": "shared_warc", "format": "warc", "path": str(shared_warc_dir), "domain": "web"})
    return {
        "name": "bad-input",
        "output": str(root / "out"),
        "rows_per_shard": 64,
        "write_dropped": False,  # `mimo-data build --write-dropped` turns it on
        "ray": {"num_cpus": 2},
        "sources": sources,
        "steps": {"language": {"keep": []}, "dedup": {"minhash": False}},
        "stages": [{"name": "stage-1", "seq_len": 256, "tokens_target": 2000, "weights": {"web": 1.0}}],
    }


def _good_page(rng: random.Random, index: int) -> str:
    title, paragraphs = _english_article(rng, index)
    return _page_html(title, _paragraphs_html(paragraphs), rng=rng)


def _write_html_files(folder: Path, rng: random.Random, expected: dict, *, huge_html: bool) -> None:
    for index in range(GOOD_PAGES):
        (folder / f"good-{index}.html").write_text(_good_page(rng, index), encoding="utf-8")

    def bad(name: str, content: bytes, outcome: tuple[str, str | None]) -> None:
        (folder / name).write_bytes(content)
        expected[str(folder / name)] = outcome

    # A name that a shell or a path join would misread; it must stay a plain input name.
    bad("..%2F..%2Fescape $(touch pwned).html", _good_page(rng, 4).encode(), PASSES_EXTRACTION)
    bad("zero-bytes.html", b"", ("read", "file_empty"))
    bad("binary-junk.html", rng.randbytes(64 * 1024), ("extract", "binary_content"))
    bad("gzip-named-html.html", gzip.compress(_good_page(rng, 5).encode(), mtime=0), ("extract", "binary_content"))
    bad("truncated.html.gz", gzip.compress(_good_page(rng, 6).encode(), mtime=0)[:300], ("read", "html_gzip_corrupt"))
    nested = "<html><body>" + "<div>" * NESTED_HTML_LEVELS + _good_page(rng, 7) + "</div>" * NESTED_HTML_LEVELS
    bad("nested-10000.html", nested.encode(), ("extract", "html_too_deep"))

    # A page declared as windows-1252 whose bytes are GB18030, and a UTF-8 page with
    # a Latin-1 paragraph pasted in: both decode, with replacement or mojibake.
    chinese = "<p>" + "今天早上老师在北京买了一本书，非常有意思。" * 20 + "</p>"
    declared_wrong = f'<html><head><meta charset="windows-1252"></head><body>{chinese}</body></html>'
    bad("wrong-encoding.html", declared_wrong.encode("gb18030"), PASSES_EXTRACTION)
    page = _good_page(rng, 8)
    middle = page.index("</p>")
    mixed = page[:middle].encode("utf-8") + " café crème, déjà vu".encode("latin-1") + page[middle:].encode("utf-8")
    bad("mixed-encoding.html", mixed, PASSES_EXTRACTION)

    if huge_html:
        write_huge_html(folder / "huge-100mb.html")
        expected[str(folder / "huge-100mb.html")] = ("extract", "too_large")


def write_huge_html(path: Path, size_bytes: int = HUGE_HTML_BYTES) -> None:
    """Write a well-formed HTML page of ``size_bytes`` bytes of repeated paragraphs, in 1 MB pieces."""
    paragraph = b"<p>The quick brown fox jumps over the lazy dog, again and again, in one more paragraph.</p>\n"
    head, tail = b"<!DOCTYPE html><html><body>\n", b"</body></html>\n"
    piece = paragraph * (1_000_000 // len(paragraph))
    with open(path, "wb") as stream:
        stream.write(head)
        remaining = size_bytes - len(head) - len(tail)
        while remaining > 0:
            chunk = piece[:remaining]
            stream.write(chunk)
            remaining -= len(chunk)
        stream.write(tail)


def _write_pdf_files(folder: Path, rng: random.Random, expected: dict) -> None:
    good = _text_pdf(rng)
    (folder / "good.pdf").write_bytes(good)

    def bad(name: str, content: bytes, outcome: tuple[str, str | None]) -> None:
        (folder / name).write_bytes(content)
        expected[str(folder / name)] = outcome

    bad("zero-bytes.pdf", b"", ("read", "file_empty"))
    bad("html-named-pdf.pdf", _good_page(rng, 9).encode(), ("read", "pdf_header_missing"))
    bad("encrypted.pdf", _text_pdf(rng, user_password="secret"), ("extract", "pdf_encrypted"))
    bad("image-only.pdf", _image_only_pdf(), ("extract", "pdf_no_text_layer"))
    # Cut in half, pymupdf still finds the first lines of text in what is left.
    bad("truncated.pdf", good[: len(good) // 2], ("extract", "pdf_truncated"))


def _text_pdf(rng: random.Random, *, user_password: str | None = None) -> bytes:
    document = pymupdf.open()
    _, paragraphs = _english_article(rng, 10)
    page = document.new_page()
    page.insert_textbox(pymupdf.Rect(72, 72, 540, 760), "\n\n".join(paragraphs[:3]), fontname="helv", fontsize=10)
    options = {"garbage": 3, "deflate": True, "no_new_id": True}
    if user_password is not None:
        options.update(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=user_password, owner_pw=user_password + "-owner")
    data = document.tobytes(**options)
    document.close()
    return data


def _image_only_pdf() -> bytes:
    """Return a one-page PDF whose only content is a picture of text, as a scan is."""
    source = pymupdf.open()
    source.new_page(width=300, height=100).insert_text((20, 50), "scanned words, no text layer", fontsize=14)
    pixmap = source[0].get_pixmap(dpi=72)
    source.close()

    document = pymupdf.open()
    document.new_page(width=300, height=100).insert_image(pymupdf.Rect(0, 0, 300, 100), pixmap=pixmap)
    data = document.tobytes(garbage=3, deflate=True, no_new_id=True)
    document.close()
    return data


def _write_warc_files(folder: Path, rng: random.Random, expected: dict) -> None:
    pages = [(f"http://bad.example.org/page/{index}", _good_page(rng, 11 + index)) for index in range(2)]
    pages.append((HOSTILE_URL, _good_page(rng, 13)))
    whole = _warc_bytes(rng, pages, gzip_records=True)
    (folder / "good.warc.gz").write_bytes(whole)

    def bad(name: str, content: bytes, outcome: tuple[str, str | None]) -> None:
        (folder / name).write_bytes(content)
        expected[str(folder / name)] = outcome

    bad("zero-bytes.warc", b"", ("read", "file_empty"))
    bad("binary-junk.warc", rng.randbytes(16 * 1024), ("read", "warc_rest_unreadable"))
    # Cut inside the second record's gzip member: the first record is still read.
    bad("truncated.warc.gz", whole[: len(whole) // 2], ("read", "warc_truncated"))
    # warcio 1.8.1 reads a body whose chunk sizes do not parse as not chunked, so
    # the page is extracted rather than dropped.
    bad("mis-chunked.warc", _mis_chunked_warc(rng), PASSES_EXTRACTION)


def _warc_bytes(rng: random.Random, pages: list[tuple[str, str]], *, gzip_records: bool) -> bytes:
    stream = io.BytesIO()
    writer = WARCWriter(stream, gzip=gzip_records)
    for url, page in pages:
        body = page.encode("utf-8")
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                              ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers,
                                           warc_headers_dict=_warc_headers(rng))
        writer.write_record(record)
    return stream.getvalue()


def _mis_chunked_warc(rng: random.Random) -> bytes:
    """Return a WARC whose response claims chunked transfer coding but whose chunk sizes are wrong."""
    body = _good_page(rng, 14).encode("utf-8")
    # The first chunk size is not hexadecimal, as when a crawler stored a
    # de-chunked body and kept the Transfer-Encoding header.
    http_block = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"zz\r\n" + body + b"\r\n0\r\n\r\n")
    headers = "".join(f"{name}: {value}\r\n" for name, value in (
        ("WARC-Type", "response"),
        ("WARC-Record-ID", _record_id(rng)),
        ("WARC-Date", FIXED_WARC_DATE),
        ("WARC-Target-URI", "http://bad.example.org/chunked"),
        ("Content-Type", "application/http; msgtype=response"),
        ("Content-Length", str(len(http_block))),
    ))
    return b"WARC/1.0\r\n" + headers.encode("ascii") + b"\r\n" + http_block + b"\r\n\r\n"


def _record_id(rng: random.Random) -> str:
    return f"<urn:uuid:{rng.getrandbits(128):032x}>"


def _warc_headers(rng: random.Random) -> dict[str, str]:
    return {"WARC-Record-ID": _record_id(rng), "WARC-Date": FIXED_WARC_DATE}


def _write_jsonl_file(path: Path, rng: random.Random, expected: dict) -> None:
    lines = []
    for index in range(3):
        _, paragraphs = _english_article(rng, 20 + index)
        url = HOSTILE_URL if index == 0 else f"http://bad.example.org/r/{index}"
        lines.append(json.dumps({"text": "\n\n".join(paragraphs), "url": url}).encode())
    lines.append(b'{"text": "a line cut in the middle of a str')  # invalid JSON
    lines.append(b'{"text": "caf\xe9 in Latin-1 bytes"}')  # invalid UTF-8
    lines.append(b'["a list, not an object"]')
    lines.append(b'{"body": "no text field"}')
    # The last line is cut without a newline, as a file copied while being written.
    path.write_bytes(b"\n".join(lines) + b'\n{"text": "the last line ends he')
    expected[str(path)] = ("read", "jsonl_invalid_json")
    expected[f"{path}#line=5"] = ("read", "jsonl_invalid_utf8")
    expected[f"{path}#line=6"] = ("read", "jsonl_not_object")
    expected[f"{path}#line=7"] = ("read", "jsonl_missing_text")
    expected[f"{path}#line=8"] = ("read", "jsonl_invalid_json")
