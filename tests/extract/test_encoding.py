"""Tests for decode_html: BOM, declared charsets, GB2312 as GB18030, detection fallback."""

from __future__ import annotations

import codecs
import json

from extract_corpus import CORPUS

from mimo_data.extract import decode_html, extract_html

HTML_ZH = CORPUS / "html_zh"
GB2312_PAGE = HTML_ZH / "CWCED__0d931936-d510-4904-a714-88bb267b62da.html"


def test_bom_wins_over_meta():
    content = codecs.BOM_UTF8 + '<meta charset="iso-8859-1"><p>naïve</p>'.encode("utf-8")
    text, charset = decode_html(content)
    assert charset == "utf-8"
    assert "naïve" in text


def test_header_charset_used():
    content = "<p>Grüße</p>".encode("cp1252")
    text, charset = decode_html(content, content_type="text/html; charset=windows-1252")
    assert charset == "cp1252"
    assert "Grüße" in text


def test_meta_http_equiv_charset_used():
    content = '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"><p>日本語</p>'.encode("shift_jis")
    text, charset = decode_html(content)
    assert charset == "shift_jis"
    assert "日本語" in text


def test_gb2312_declared_decodes_as_gb18030():
    # U+9555 is in GBK but not in GB2312: real "GB2312" pages contain such characters.
    content = '<meta charset="gb2312"><p>朱镕基</p>'.encode("gbk")
    text, charset = decode_html(content)
    assert charset == "gb18030"
    assert "朱镕基" in text


def test_wrong_legacy_declaration_loses_to_valid_utf8():
    # This page declares gb2312 but its bytes are UTF-8.
    text, charset = decode_html((HTML_ZH / "readability__qq_source.html").read_bytes())
    assert charset == "utf-8"
    assert "人工智能" in text


def test_undeclared_non_utf8_is_detected():
    content = ("<html><body><p>" + "这是一个没有声明编码的中文页面，用来测试编码检测。" * 5 + "</p></body></html>").encode("gb18030")
    text, charset = decode_html(content)
    assert "没有声明编码" in text
    assert charset != "utf-8"


def test_gb2312_corpus_page_readable():
    raw = GB2312_PAGE.read_bytes()
    assert b"gb2312" in raw.lower()
    ground_truth = json.loads(GB2312_PAGE.with_name(GB2312_PAGE.name.replace(".html", ".groundtruth.json")).read_text("utf-8"))
    phrase = ground_truth["cleaned"].split("。")[0]  # first sentence of the article

    result = extract_html(raw)

    assert result.charset == "gb18030"
    assert phrase in result.text
    assert "\ufffd" not in result.text
