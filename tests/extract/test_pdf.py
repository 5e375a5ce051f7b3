"""Tests for extract_pdf on born-digital PDFs of the corpus and on broken input."""

from __future__ import annotations

import random

import pymupdf
import pytest
from extract_corpus import CORPUS

from mimo_data.extract import ExtractionError, extract_pdf

CODE_AND_FORMULA = CORPUS / "pdf" / "docling__code_and_formula.pdf"


@pytest.fixture(scope="module")
def code_and_formula():
    return extract_pdf(CODE_AND_FORMULA.read_bytes(), path=str(CODE_AND_FORMULA))


def test_page_count_matches_pymupdf(code_and_formula):
    with pymupdf.open(CODE_AND_FORMULA) as document:
        assert code_and_formula.page_count == document.page_count == 2


def test_groundtruth_sentence_present(code_and_formula):
    groundtruth = CODE_AND_FORMULA.with_name("docling__code_and_formula.groundtruth.md").read_text("utf-8")
    paragraph = next(line for line in groundtruth.splitlines() if line.startswith("Duis autem"))
    assert paragraph in code_and_formula.text


def test_hyphenated_words_rejoined(code_and_formula):
    # The PDF breaks "voluptua" as "volup-" / "tua" at a line end.
    assert "sed diam voluptua. At vero" in code_and_formula.text
    assert "volup-" not in code_and_formula.text


def test_code_listing_keeps_lines_and_indentation(code_and_formula):
    assert "function add(a, b) {\n    return a + b;\n}" in code_and_formula.text


def test_listing_caption_own_paragraph(code_and_formula):
    assert "\n\nListing 1: Simple JavaScript Program\n\n" in code_and_formula.text


def test_random_bytes_raise(tmp_path):
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(ExtractionError, match="corrupt.pdf"):
        extract_pdf(corrupt.read_bytes(), path=str(corrupt))


def test_empty_bytes_raise():
    with pytest.raises(ExtractionError, match="empty PDF"):
        extract_pdf(b"", path="empty.pdf")


def test_encrypted_pdf_raises(tmp_path):
    document = pymupdf.open()
    document.new_page().insert_text((72, 72), "secret text")
    locked = tmp_path / "locked.pdf"
    document.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="user")
    document.close()
    with pytest.raises(ExtractionError, match="encrypted"):
        extract_pdf(locked.read_bytes(), path=str(locked))


def test_generated_pdf_text_round_trips():
    document = pymupdf.open()
    for page_text in ("First page paragraph.", "Second page paragraph."):
        document.new_page().insert_text((72, 72), page_text)
    content = document.tobytes()
    document.close()

    result = extract_pdf(content)

    assert result.page_count == 2
    assert result.text == "First page paragraph.\n\nSecond page paragraph."


def test_tex_spacing_accents_composed():
    # The acknowledgements of this paper name "Ján Mináč", typeset with TeX accents.
    text = extract_pdf((CORPUS / "pdf" / "olmocr__math_2503_04086.pdf").read_bytes()).text
    assert "We also thank Ján Mináč for his constant encouragement" in text
    assert "´" not in text


def test_two_columns_read_in_order():
    # The left column starts lower than the right one, so ordering blocks by their
    # top edge alone would put the right column first.
    document = pymupdf.open()
    page = document.new_page(width=600, height=800)
    page.insert_textbox(pymupdf.Rect(40, 40, 560, 80), "A title across the page")
    page.insert_textbox(pymupdf.Rect(40, 150, 280, 700), "Left column first line.\nLeft column second line.")
    page.insert_textbox(pymupdf.Rect(320, 100, 560, 700), "Right column first line.\nRight column second line.")
    content = document.tobytes()
    document.close()

    text = extract_pdf(content).text

    assert text.index("A title") < text.index("Left column first") < text.index("Left column second")
    assert text.index("Left column second") < text.index("Right column first")
