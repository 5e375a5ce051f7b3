"""Tests for extract_pdf on small PDFs generated with pymupdf: layout, code, formulas, bad input."""

from __future__ import annotations

import pymupdf
import pytest

from mimo_data.extract import ExtractionError, extract_pdf
from mimo_data.extract.pdf.spans import clean_text


def _insert_unicode(page, point, text: str, fontsize: float = 12) -> None:
    # The base-14 fonts have no Greek letters or ligatures; pymupdf's bundled CJK font has both.
    page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font("cjk").buffer)
    page.insert_text(point, text, fontname="cjk", fontsize=fontsize)


def _pdf(draw, pages: int = 1) -> bytes:
    document = pymupdf.open()
    for number in range(pages):
        draw(document.new_page(width=595, height=842), number)
    content = document.tobytes()
    document.close()
    return content


def test_two_columns_read_column_by_column():
    def draw(page, _):
        page.insert_text((50, 100), "A title across the whole page width for the columns below", fontsize=14)
        for row in range(6):
            page.insert_text((50, 160 + 14 * row), f"left column line {row}", fontsize=11)
            page.insert_text((320, 160 + 14 * row), f"right column line {row}", fontsize=11)

    text = extract_pdf(_pdf(draw)).text

    assert text.index("A title") < text.index("left column line 0")
    assert text.index("left column line 5") < text.index("right column line 0")


def test_monospace_listing_fenced_with_indentation():
    def draw(page, _):
        page.insert_text((72, 100), "The function below adds two numbers and returns the sum.", fontsize=11)
        page.insert_text((72, 130), "def add(a, b):", fontname="cour", fontsize=10)
        page.insert_text((72 + 4 * 6.0, 142), "return a + b", fontname="cour", fontsize=10)

    text = extract_pdf(_pdf(draw)).text

    assert "```\ndef add(a, b):\n    return a + b\n```" in text


def test_inline_monospace_becomes_backticks():
    def draw(page, _):
        writer = pymupdf.TextWriter(page.rect)
        writer.append((72, 100), "Call the function ", fontsize=11)
        writer.append(writer.last_point, "print()", font=pymupdf.Font("cour"), fontsize=11)
        writer.append(writer.last_point, " to show the value on the screen.", fontsize=11)
        writer.write_text(page)

    assert "Call the function `print()` to show the value" in extract_pdf(_pdf(draw)).text


def test_fraction_rebuilt_from_rule():
    def draw(page, _):
        page.insert_text((72, 100), "The ratio is defined below for all positive values.", fontsize=11)
        page.insert_text((200, 150), "x", fontname="tiit", fontsize=12)
        page.insert_text((198, 168), "y", fontname="tiit", fontsize=12)
        page.draw_line((196, 155), (208, 155), width=0.6)
        page.insert_text((180, 159), "r", fontname="tiit", fontsize=12)
        page.insert_text((188, 159), "=", fontsize=12)

    extraction = extract_pdf(_pdf(draw))

    assert "$$r=\\frac{x}{y}$$" in extraction.text
    assert extraction.formulas_rebuilt == 1
    assert extraction.formulas_kept_as_text == 0


def test_superscript_and_subscript_rebuilt():
    def draw(page, _):
        page.insert_text((72, 100), "Pythagoras says that for a right triangle", fontsize=11)
        page.insert_text((200, 140), "a", fontname="tiit", fontsize=12)
        page.insert_text((206, 135), "2", fontsize=8)
        page.insert_text((214, 140), "+", fontsize=12)
        page.insert_text((224, 140), "x", fontname="tiit", fontsize=12)
        page.insert_text((230, 143), "i", fontname="tiit", fontsize=8)
        page.insert_text((238, 140), "= 0", fontsize=12)

    assert "$$a^{2}+x_{i}=0$$" in extract_pdf(_pdf(draw)).text


def test_greek_and_operators_mapped():
    def draw(page, _):
        page.insert_text((72, 100), "The circle constant and the sum operator:", fontsize=11)
        _insert_unicode(page, (200, 140), "α ≤ ∑ π")

    assert "$$\\alpha\\leq\\sum\\pi$$" in extract_pdf(_pdf(draw)).text


def test_stacked_formula_kept_as_text():
    # Two full-size rows without a rule between them cannot be one formula baseline.
    def draw(page, _):
        page.insert_text((72, 100), "The matrix entries are listed in the block below.", fontsize=11)
        _insert_unicode(page, (200, 140), "α β")
        _insert_unicode(page, (200, 154), "γ δ")

    extraction = extract_pdf(_pdf(draw))

    assert "α β\nγ δ" in extraction.text
    assert extraction.formulas_kept_as_text == 1


def test_running_header_and_page_numbers_removed():
    def draw(page, number):
        page.insert_text((72, 70), "Journal of Examples, volume 3", fontsize=9)
        page.insert_text((72, 150), f"Body text of page {number} that a reader wants to keep.", fontsize=11)
        page.insert_text((290, 800), str(number + 1), fontsize=9)

    text = extract_pdf(_pdf(draw, pages=4)).text

    assert "Journal of Examples" not in text
    assert "Body text of page 3 that a reader wants to keep." in text
    assert "\n\n4" not in text


def test_ligatures_and_spaces_normalised():
    def draw(page, _):
        _insert_unicode(page, (72, 100), "The \ufb01rst \ufb01le is small.", fontsize=11)

    assert "The first file is small." in extract_pdf(_pdf(draw)).text
    # The bundled font lacks the ff ligature and the non-breaking space, so they are checked directly.
    assert clean_text("e\ufb00ect\u00a0of co\u00adoperation") == "effect of cooperation"


def test_encrypted_reason():
    document = pymupdf.open()
    document.new_page().insert_text((72, 72), "secret text")
    content = document.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="user")
    document.close()
    with pytest.raises(ExtractionError) as raised:
        extract_pdf(content, path="locked.pdf")
    assert raised.value.reason == "pdf_encrypted"


def test_damaged_reason():
    with pytest.raises(ExtractionError) as raised:
        extract_pdf(b"%PDF-1.7\nthis is not a PDF body", path="broken.pdf")
    assert raised.value.reason == "pdf_damaged"


def test_image_only_reason():
    def draw(page, _):
        pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 20, 20), False)
        pixmap.set_rect(pixmap.irect, (200, 10, 10))
        page.insert_image(pymupdf.Rect(72, 72, 200, 200), pixmap=pixmap)

    with pytest.raises(ExtractionError, match="no text layer") as raised:
        extract_pdf(_pdf(draw), path="scan.pdf")
    assert raised.value.reason == "pdf_no_text_layer"


def test_page_limit_reason():
    content = _pdf(lambda page, number: page.insert_text((72, 100), f"page {number}"), pages=3)
    with pytest.raises(ExtractionError) as raised:
        extract_pdf(content, max_pages=2)
    assert raised.value.reason == "pdf_too_many_pages"
    assert extract_pdf(content, max_pages=3).page_count == 3


def test_time_limit_reason():
    content = _pdf(lambda page, number: page.insert_text((72, 100), f"page {number}"), pages=2)
    with pytest.raises(ExtractionError) as raised:
        extract_pdf(content, timeout_seconds=0.0)
    assert raised.value.reason == "pdf_timeout"
