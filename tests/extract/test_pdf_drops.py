"""Bad PDFs in the extract step become drops with a reason per document, never lost rows."""

from __future__ import annotations

import pymupdf

from mimo_data.document import documents_from_rows
from mimo_data.steps import extract_text


def _text_pdf() -> bytes:
    document = pymupdf.open()
    document.new_page().insert_text((72, 100), "A page with a text layer that the extractor keeps.")
    content = document.tobytes()
    document.close()
    return content


def _encrypted_pdf() -> bytes:
    document = pymupdf.open()
    document.new_page().insert_text((72, 100), "secret text")
    content = document.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="user")
    document.close()
    return content


def _image_only_pdf() -> bytes:
    document = pymupdf.open()
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 8, 8), False)
    document.new_page().insert_image(pymupdf.Rect(72, 72, 144, 144), pixmap=pixmap)
    content = document.tobytes()
    document.close()
    return content


def test_extract_step_records_pdf_reasons():
    # The last file ends like a whole PDF, so it reaches the parser instead of being dropped as truncated.
    contents = [_text_pdf(), _encrypted_pdf(), _image_only_pdf(), b"%PDF-1.4\ngarbage\n%%EOF\n", b"%PDF-1.4\ngarbage"]
    rows = [
        {"id": f"doc-{index}", "source": "pdfs", "format": "pdf", "path": f"doc-{index}.pdf", "content": content}
        for index, content in enumerate(contents)
    ]

    table = extract_text(documents_from_rows(rows))

    assert table.num_rows == 5
    assert table.column("drop_reason").to_pylist() == [None, "pdf_encrypted", "pdf_no_text_layer", "pdf_damaged", "pdf_truncated"]
    assert "text layer" in table.column("text").to_pylist()[0]
