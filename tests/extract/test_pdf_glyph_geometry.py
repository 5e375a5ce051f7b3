"""Tests for radicals, TeX extension-font glyphs, glued words and the collector pause of extract_pdf."""

from __future__ import annotations

import gc

import pymupdf
import pytest

from mimo_data.extract import ExtractionError, extract_pdf
from mimo_data.extract.pdf.formula import formula_latex
from mimo_data.extract.pdf.spans import Span


def _pdf(draw) -> bytes:
    document = pymupdf.open()
    draw(document.new_page(width=595, height=842))
    content = document.tobytes()
    document.close()
    return content


def _insert_radical_sign(page, point, fontsize: float = 12) -> None:
    # The base-14 fonts have no radical sign; pymupdf's bundled CJK font has one.
    page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font("cjk").buffer)
    page.insert_text(point, "√", fontname="cjk", fontsize=fontsize)


def test_radical_rebuilt_from_overline():
    def draw(page):
        page.insert_text((72, 100), "The root below is defined for all positive values.", fontsize=11)
        page.insert_text((180, 159), "r", fontname="tiit", fontsize=12)
        page.insert_text((188, 159), "=", fontsize=12)
        _insert_radical_sign(page, (198, 159))
        page.insert_text((210, 159), "x", fontname="tiit", fontsize=12)
        page.insert_text((218, 159), "+ 1", fontsize=12)
        page.draw_line((209.5, 148), (234, 148), width=0.5)

    extraction = extract_pdf(_pdf(draw))

    assert "$$r=\\sqrt{x+1}$$" in extraction.text
    assert extraction.formulas_rebuilt == 1


def test_radical_index_rebuilt():
    def draw(page):
        page.insert_text((72, 100), "The cube root below is defined for all real values.", fontsize=11)
        page.insert_text((180, 159), "s", fontname="tiit", fontsize=12)
        page.insert_text((188, 159), "=", fontsize=12)
        page.insert_text((196, 153), "3", fontsize=7)
        _insert_radical_sign(page, (198, 159))
        page.insert_text((210, 159), "y", fontname="tiit", fontsize=12)
        page.draw_line((209.5, 148), (217, 148), width=0.5)

    assert "$$s=\\sqrt[3]{y}$$" in extract_pdf(_pdf(draw)).text


def test_nested_radicals_rebuilt_inside_out():
    def draw(page):
        page.insert_text((72, 100), "The nested root below is defined for all positive values.", fontsize=11)
        page.insert_text((180, 159), "r", fontname="tiit", fontsize=12)
        page.insert_text((188, 159), "=", fontsize=12)
        _insert_radical_sign(page, (198, 159))
        page.insert_text((210, 159), "1 +", fontsize=12)
        _insert_radical_sign(page, (228, 159))
        page.insert_text((240, 159), "x", fontname="tiit", fontsize=12)
        page.draw_line((239.5, 149), (245.5, 149), width=0.5)
        page.draw_line((209.5, 146), (245.5, 146), width=0.5)

    assert "$$r=\\sqrt{1+\\sqrt{x}}$$" in extract_pdf(_pdf(draw)).text


def test_radical_without_overline_keeps_sign():
    def draw(page):
        page.insert_text((72, 100), "The sign below has no rule drawn over its argument.", fontsize=11)
        page.insert_text((180, 159), "r", fontname="tiit", fontsize=12)
        page.insert_text((188, 159), "=", fontsize=12)
        _insert_radical_sign(page, (198, 159))
        page.insert_text((210, 159), "x", fontname="tiit", fontsize=12)

    text = extract_pdf(_pdf(draw)).text

    assert "\\sqrt" in text
    assert "\\sqrt{" not in text


def _span(text: str, font: str, size: float, bbox: tuple[float, float, float, float]) -> Span:
    return Span(text, font, size, 0, bbox)


def test_cmex_brackets_mapped_and_off_baseline():
    # TeX's extension font without a Unicode map: '"' and '#' are the codes of big
    # brackets, and their boxes sit above the baseline of the formula they enclose.
    spans = [
        _span("x", "CMMI10", 12.0, (100.0, 150.0, 106.0, 162.0)),
        _span("=", "CMR10", 12.0, (108.0, 150.0, 116.0, 162.0)),
        _span('"', "CMEX10", 12.0, (118.0, 138.0, 124.0, 146.0)),
        _span("a", "CMMI10", 12.0, (126.0, 150.0, 132.0, 162.0)),
        _span("#", "CMEX10", 12.0, (134.0, 138.0, 140.0, 146.0)),
    ]

    assert formula_latex(spans, []) == "x=[a]"


def test_quote_in_text_font_not_mapped():
    spans = [_span('"', "CMR10", 12.0, (100.0, 150.0, 106.0, 162.0)), _span("a", "CMMI10", 12.0, (108.0, 150.0, 114.0, 162.0))]

    assert formula_latex(spans, []) == '"a'


def test_text_size_not_taken_from_scripts():
    # The scripts carry more characters than the full-size glyphs, yet stay scripts.
    spans = [
        _span("ζ", "CMMI10", 12.0, (100.0, 150.0, 106.0, 162.0)),
        _span("n", "CMMI7", 9.0, (106.5, 156.0, 111.0, 165.0)),
        _span("ψ(gs)", "CMMI7", 9.0, (106.5, 144.0, 128.0, 153.0)),
        _span("=", "CMR10", 12.0, (130.0, 150.0, 138.0, 162.0)),
        _span("1", "CMR10", 12.0, (140.0, 150.0, 146.0, 162.0)),
    ]

    assert formula_latex(spans, []) == r"\zeta_{n}^{\psi(gs)}=1"


def _glued_line_pdf(gap_em: float) -> bytes:
    """Write each word at its own position, with a gap of ``gap_em`` and no space glyph."""

    def draw(page):
        font = pymupdf.Font("tiro")
        writer = pymupdf.TextWriter(page.rect)
        x = 72.0
        for word in "Composition of the pretraining data for the model and its evaluation".split():
            writer.append((x, 100), word, font=font, fontsize=10)
            x += font.text_length(word, fontsize=10) + gap_em * 10
        writer.append((72, 130), "Donaudampfschifffahrtsgesellschaft is one long word.", font=font, fontsize=10)
        writer.write_text(page)

    return _pdf(draw)


def test_glued_words_spaced_from_glyph_gaps():
    content = _glued_line_pdf(0.12)
    with pymupdf.open(stream=content, filetype="pdf") as document:
        plain = document[0].get_text()
    # Guard: pymupdf itself returns these words glued, so the test exercises the respacing.
    assert "Compositionofthepretrainingdata" in plain

    text = extract_pdf(content).text

    assert "Composition of the pretraining data for the model and its evaluation" in text
    assert "Donaudampfschifffahrtsgesellschaft is one long word." in text


def test_spaced_words_unchanged():
    text = extract_pdf(_glued_line_pdf(0.3)).text

    assert "Composition of the pretraining data for the model and its evaluation" in text
    assert "  " not in text


def test_garbage_collector_state_restored():
    def draw(page):
        page.insert_text((72, 100), "A page with a text layer.", fontsize=11)

    assert gc.isenabled()
    extract_pdf(_pdf(draw))
    assert gc.isenabled()
    with pytest.raises(ExtractionError):
        extract_pdf(_pdf(lambda page: page.draw_rect((72, 72, 144, 144))))
    assert gc.isenabled()

    gc.disable()
    try:
        extract_pdf(_pdf(draw))
        assert not gc.isenabled()
    finally:
        gc.enable()
