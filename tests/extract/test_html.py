"""Tests for extract_html as a whole: titles, empty pages, errors, tokens, real pages."""

from __future__ import annotations

import json

import pytest
from extract_corpus import CORPUS

from mimo_data.extract import ExtractionError, HtmlExtraction, extract_html

FILLER = "<p>" + "This paragraph is ordinary prose that gives the page enough body text. " * 4 + "</p>"
CORPUS_PAGES = sorted(
    [*(CORPUS / "html_math").glob("*.html"), *(CORPUS / "html_code").glob("*.html"), *(CORPUS / "html_zh").glob("*.html")]
)


def test_result_fields():
    html = f"<html><head><title> My  Title </title></head><body><article>{FILLER}</article></body></html>"
    result = extract_html(html.encode("utf-8"), url="https://example.org/a")
    assert isinstance(result, HtmlExtraction)
    assert result.title == "My Title"
    assert result.charset == "utf-8"
    assert result.text.startswith("This paragraph is ordinary prose")
    assert result.formula_count == 0
    assert result.code_block_count == 0


def test_str_input_reports_unicode():
    html = f"<html><body><article>{FILLER}</article></body></html>"
    assert extract_html(html).charset == "unicode"


def test_xml_declaration_accepted():
    html = f'<?xml version="1.0" encoding="ISO-8859-1"?><html><body><article>{FILLER}</article></body></html>'
    assert "ordinary prose" in extract_html(html).text


def test_no_main_content_gives_empty_text():
    html = "<html><head><title>Menu</title></head><body><div></div><script>var page = 1;</script></body></html>"
    result = extract_html(html)
    assert result.text == ""
    assert result.title == "Menu"


@pytest.mark.parametrize("content", [b"", b"   \n\t ", ""])
def test_empty_input_raises(content):
    with pytest.raises(ExtractionError, match="empty HTML"):
        extract_html(content, url="https://example.org/empty")


def test_wrong_type_raises():
    with pytest.raises(TypeError, match="str or bytes"):
        extract_html(123)  # type: ignore[arg-type]


def test_page_text_resembling_token_kept():
    body = "<p>The literal MIMOMATH0000X and MIMOCODE0000X stay as written, with \\(x\\).</p><pre>code</pre>"
    result = extract_html(f"<html><body><article>{FILLER}{body}</article></body></html>")
    assert "The literal MIMOMATH0000X and MIMOCODE0000X stay as written, with $x$." in result.text
    assert "```\ncode\n```" in result.text


def test_boilerplate_formulas_counted_as_dropped():
    body = f"<article>{FILLER}<p>Kept \\(a\\).</p>{FILLER}</article><footer><p>Footer \\(b\\)</p><pre>menu()</pre></footer>"
    result = extract_html(f"<html><body>{body}</body></html>")
    assert result.formula_count + result.formulas_dropped == 2
    assert result.code_block_count + result.code_blocks_dropped == 1
    assert "Kept $a$." in result.text


@pytest.mark.parametrize("html_path", CORPUS_PAGES, ids=lambda path: path.name)
def test_corpus_pages_leave_no_tokens(html_path):
    result = extract_html(html_path.read_bytes())
    assert "MIMOMATH" not in result.text
    assert "MIMOCODE" not in result.text
    assert result.formula_count >= 0


def test_chinese_news_pages():
    html_zh = CORPUS / "html_zh"
    newspaper = extract_html((html_zh / "newspaper4k__chinese_article_001.html").read_bytes())
    expected_text = (html_zh / "newspaper4k__chinese_article_001.expected.txt").read_text("utf-8")
    first_paragraph = next(line.strip() for line in expected_text.splitlines() if len(line.strip()) > 20)
    assert first_paragraph in newspaper.text

    xinhua = extract_html((html_zh / "trafilatura__xinhuanet.com.c_1125597921.html").read_bytes())
    evaldata = json.loads((html_zh / "trafilatura__xinhuanet.com.c_1125597921.evaldata.json").read_text("utf-8"))
    snippets = evaldata.get("with") or next(iter(evaldata.values()))["with"]
    assert all(snippet in xinhua.text for snippet in snippets)
