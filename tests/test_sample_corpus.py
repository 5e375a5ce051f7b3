"""The generated demo corpus: determinism, layout, readability and duplicate structure."""

from __future__ import annotations

import gzip
import html
import itertools
import json
import re
from collections import Counter
from pathlib import Path

import lxml.etree
import lxml.html
import pymupdf
import pytest

from mimo_data.io import list_inputs, read_file
from mimo_data.sample_corpus import write_sample_corpus

SHINGLE_WORDS = 5


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out_dir = tmp_path_factory.mktemp("sample")
    return out_dir, write_sample_corpus(out_dir, seed=0)


def _files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _article_text(path: Path) -> str:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    article = lxml.html.fromstring(data).find(".//article")
    return article.text_content()


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def _jaccard(first: set, second: set) -> float:
    return len(first & second) / len(first | second)


def test_same_seed_same_bytes(corpus, tmp_path):
    out_dir, _ = corpus

    write_sample_corpus(tmp_path / "again", seed=0)
    write_sample_corpus(tmp_path / "other", seed=1)
    first, again, other = _files(out_dir), _files(tmp_path / "again"), _files(tmp_path / "other")

    assert first == again
    assert sorted(first) == sorted(other)
    changed = [name for name in first if first[name] != other[name]]
    assert len(changed) == len(first)


def test_counts_match_files(corpus):
    out_dir, counts = corpus

    assert counts == {
        "web_html": 50,
        "math_html": 24,
        "code_html": 12,
        "warc_files": 1,
        "warc_html_responses": 10,
        "warc_other_records": 3,
        "pdf_files": 2,
        "synthetic_responses": 40,
    }
    assert len(list((out_dir / "web").iterdir())) == counts["web_html"]
    assert len(list((out_dir / "math").glob("*.html"))) == counts["math_html"]
    assert len(list((out_dir / "code").glob("*.html"))) == counts["code_html"]
    assert len(list((out_dir / "pdf").glob("*.pdf"))) == counts["pdf_files"]
    assert (out_dir / "crawl.warc.gz").is_file()


def test_web_layout(corpus):
    out_dir, _ = corpus
    names = sorted(path.name for path in (out_dir / "web").iterdir())

    assert sum(name.startswith("en-") and "dup" not in name for name in names) == 36
    assert sum(name.endswith(".html.gz") for name in names) == 4
    assert [name for name in names if "near-dup" in name] == [
        "en-03-near-dup.html", "en-14-near-dup.html", "en-25-near-dup.html"]
    assert [name for name in names if "exact-dup" in name] == ["en-07-exact-dup.html", "en-19-exact-dup.html"]
    assert sum(name.startswith("low-quality-") for name in names) == 3
    assert sum(name.startswith("zh-") for name in names) == 6


def test_every_html_file_reads(corpus):
    out_dir, counts = corpus
    expected = counts["web_html"] + counts["math_html"] + counts["code_html"]

    files = [path for folder in ("web", "math", "code") for path in list_inputs("html", str(out_dir / folder))]
    rows = [row for path in files for row in read_file("html", path, source="demo")]

    assert len(files) == expected
    assert len(rows) == expected
    assert all(row["drop_reason"] is None for row in rows)
    assert all(row["content"].startswith(b"<!DOCTYPE html>") for row in rows)


def test_warc_reads(corpus):
    out_dir, counts = corpus

    rows = list(read_file("warc", str(out_dir / "crawl.warc.gz"), source="demo"))
    kept = [row for row in rows if row["drop_reason"] is None]
    reasons = Counter(row["drop_reason"] for row in rows if row["drop_reason"])

    assert len(kept) == counts["warc_html_responses"]
    assert reasons == Counter({"warc_non_document_record": 2, "warc_not_html": 1})
    assert len(rows) == counts["warc_html_responses"] + counts["warc_other_records"]
    # The gzip Content-Encoding of the second response is decoded by the reader.
    assert all(row["content"].startswith(b"<!DOCTYPE html>") for row in kept)
    assert {row["url"].split("/")[2] for row in kept} == {
        "notes.example.org", "maths.example.org", "code.example.org"}


def test_gb2312_page_decodes(corpus):
    out_dir, _ = corpus
    path = out_dir / "web" / "zh-00-gb2312.html"
    data = path.read_bytes()

    text = data.decode("gb2312")

    assert '<meta charset="gb2312">' in text
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 300
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_chinese_pages_declared_charset(corpus):
    out_dir, _ = corpus

    for path in sorted((out_dir / "web").glob("zh-*.html")):
        encoding = path.stem.rsplit("-", 1)[1]
        charset = "utf-8" if encoding == "utf8" else encoding
        text = path.read_bytes().decode(charset)
        assert f'<meta charset="{charset}">' in text
        assert "。" in text


def test_pdfs_open_with_text(corpus):
    out_dir, counts = corpus

    with pymupdf.open(out_dir / "pdf" / "formulas.pdf") as document:
        formulas = document[0].get_text()
    with pymupdf.open(out_dir / "pdf" / "code-listing.pdf") as document:
        listing = document[0].get_text()
    rows = [row for path in list_inputs("pdf", str(out_dir / "pdf")) for row in read_file("pdf", path, source="demo")]

    assert "= 0 has the roots x =" in formulas
    assert "d/dx (x^" in formulas
    assert re.search(r"def find_\w+\(sorted_\w+, target\):", listing)
    assert "    while low <= high:" in listing
    assert "        middle = (low + high) // 2" in listing
    assert len(rows) == counts["pdf_files"]
    assert all(row["drop_reason"] is None for row in rows)


def test_synthetic_responses(corpus):
    out_dir, counts = corpus
    path = out_dir / "synthetic" / "responses.jsonl"

    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows = list(read_file("jsonl", str(path), source="synthetic"))

    assert len(records) == counts["synthetic_responses"]
    assert len({record["id"] for record in records}) == len(records)
    for record in records:
        assert list(record) == ["id", "question", "response", "text"]
        assert record["text"] == record["question"] + "\n\n" + record["response"]
    assert sum("```python" in record["response"] for record in records) == 14
    assert [row["text"] for row in rows] == [record["text"] for record in records]


def test_synthetic_linear_answers_correct(corpus):
    out_dir, _ = corpus
    records = [json.loads(line) for line in (out_dir / "synthetic" / "responses.jsonl").read_text().splitlines()]
    pattern = re.compile(r"Solve for x: (\d+)x \+ (\d+) = (-?\d+)\.")

    solved = 0
    for record in records:
        match = pattern.match(record["question"])
        if match is None:
            continue
        slope, offset, right = (int(group) for group in match.groups())
        answer = int(re.search(r"The answer is x = (-?\d+)", record["response"]).group(1))
        assert slope * answer + offset == right
        solved += 1
    assert solved >= 3


@pytest.mark.parametrize(("style", "markers"), [
    ("mathjax2", ['<script type="math/tex; mode=display">', '<script type="math/tex">']),
    ("mathml", ['<annotation encoding="application/x-tex">', 'display="block"', 'display="inline"']),
    ("katex", ['class="katex-mathml"', 'class="katex-display"', '<annotation encoding="application/x-tex">']),
    ("tex-text", ["\\(", "\\)", "\\[", "\\]", "^{"]),
    ("wechat", ['data-formula-type="block-equation"', 'data-formula-type="inline-equation"']),
    ("wikipedia", ['class="mwe-math-element"', 'style="display: none;"', 'class="mwe-math-fallback-image-inline"']),
    ("wp-katex", ['class="wp-katex-eq"', 'data-display="true"', 'data-display="false"']),
    ("latex-image", ['class="latex"', "latex.php?latex="]),
])
def test_math_page_markup(corpus, style, markers):
    out_dir, _ = corpus
    pages = sorted((out_dir / "math").glob(f"math-[0-9][0-9]-{style}.html"))

    assert len(pages) == 3
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for marker in markers:
            assert marker in text, f"{page.name} lacks {marker}"


def test_mathml_is_well_formed(corpus):
    out_dir, _ = corpus

    for page in sorted((out_dir / "math").glob("math-*-mathml.html")):
        elements = re.findall(r"<math .*?</math>", page.read_text(encoding="utf-8"), re.DOTALL)
        assert len(elements) >= 3
        for element in elements:
            tree = lxml.etree.fromstring(element.encode("utf-8"))
            annotation = tree.find(".//{http://www.w3.org/1998/Math/MathML}annotation")
            assert annotation.text.strip()


def test_code_blocks_keep_indentation(corpus):
    out_dir, _ = corpus

    for page in sorted((out_dir / "code").glob("*.html")):
        blocks = re.findall(r'<pre><code class="language-python">(.*?)</code></pre>',
                            page.read_text(encoding="utf-8"), re.DOTALL)
        # The second block is a <pre><code>, a line-numbered table or a div.highlight in turn.
        assert 1 <= len(blocks) <= 2
        code = "".join(html.unescape(block) for block in blocks)
        assert re.search(r"^ {4,}\S", code, re.MULTILINE), f"{page.name} has no indented block"
        for block in blocks:
            compile(html.unescape(block), page.name, "exec")


def test_duplicates_by_shingle_jaccard(corpus):
    out_dir, _ = corpus
    web = out_dir / "web"

    shingles = {path.name: _shingles(_article_text(path)) for path in sorted(web.glob("en-*"))}
    originals = [name for name in shingles if "dup" not in name]

    for number in (3, 14, 25):
        similarity = _jaccard(shingles[f"en-{number:02d}.html"], shingles[f"en-{number:02d}-near-dup.html"])
        assert 0.8 < similarity < 1.0
    for number in (7, 19):
        assert (web / f"en-{number:02d}.html").read_bytes() == (web / f"en-{number:02d}-exact-dup.html").read_bytes()
    # Distinct articles stay far below any near-duplicate threshold.
    highest = max(_jaccard(shingles[a], shingles[b]) for a, b in itertools.combinations(originals, 2))
    assert highest < 0.3


def test_distinct_pages_word_counts(corpus):
    out_dir, _ = corpus
    pages = [*sorted((out_dir / "web").glob("en-*")), *sorted((out_dir / "math").glob("*.html")),
             *sorted((out_dir / "code").glob("*.html"))]

    word_counts = [len(_article_text(page).split()) for page in pages]

    assert min(word_counts) >= 200
    assert max(word_counts) <= 1000


def test_low_quality_pages_are_poor(corpus):
    out_dir, _ = corpus
    web = out_dir / "web"

    short_words = _article_text(web / "low-quality-short.html").split()
    spam_words = _article_text(web / "low-quality-spam.html").split()
    nav_tree = lxml.html.fromstring((web / "low-quality-nav.html").read_bytes())
    nav_links = nav_tree.findall(".//article//a")

    assert len(short_words) < 10
    assert len(set(spam_words)) < 12
    assert len(spam_words) > 200
    assert len(nav_links) == 60
    assert not nav_tree.findall(".//article//p")


_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$]+?)\$", re.DOTALL)
_FENCE_RE = re.compile(r"^```(\w*)\n(.*?)\n```$", re.DOTALL | re.MULTILINE)


def test_extraction_keeps_every_math_style(corpus):
    from mimo_data.extract import extract_html
    from mimo_data.sample_corpus import MATH_STYLES

    out_dir, _ = corpus
    styles_seen = set()
    for path in sorted((out_dir / "math").glob("*.html")):
        style = path.stem.split("-", 2)[2]
        styles_seen.add(style)
        result = extract_html(path.read_bytes())
        spans = [match.group(1) or match.group(2) for match in _MATH_SPAN_RE.finditer(result.text)]
        assert result.formula_count >= 3, path.name
        assert result.formulas_dropped == 0, path.name
        # One span per formula: a rendered copy (KaTeX glyphs, Wikipedia's image) is not doubled.
        assert len(spans) == result.formula_count, path.name
        for leftover in ("data-formula", "mwe-math", "latex.php", "katex", "math/tex"):
            assert leftover not in result.text, (path.name, leftover)
    assert styles_seen == set(MATH_STYLES)


def test_extraction_keeps_every_code_style(corpus):
    from mimo_data.extract import extract_html

    out_dir, _ = corpus
    for path in sorted((out_dir / "code").glob("*.html")):
        result = extract_html(path.read_bytes())
        fences = _FENCE_RE.findall(result.text)
        assert result.code_block_count == 2, path.name
        assert len(fences) == 2, path.name
        source = html.unescape(path.read_text("utf-8"))
        for _, body in fences:
            assert any(line.startswith("    ") for line in body.split("\n")), path.name
            # Every extracted line is a line of the program, so no gutter number leaked in.
            for line in body.split("\n"):
                assert line in source, (path.name, line)
