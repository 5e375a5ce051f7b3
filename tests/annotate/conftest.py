"""Real math and code pages of the shared corpus, extracted once per test session."""

from __future__ import annotations

import pytest

from mimo_data.document import documents_from_rows
from mimo_data.io import list_inputs, read_file
from mimo_data.steps import extract_text


@pytest.fixture(scope="session")
def math_code_pages(shared_dir) -> list[dict]:
    """Extracted, kept documents of corpus/html_math and corpus/html_code (text, url, folder)."""
    pages = []
    for folder in ("html_math", "html_code"):
        for path in list_inputs("html", str(shared_dir / "corpus" / folder)):
            table = extract_text(documents_from_rows(list(read_file("html", path, source=folder))))
            for row in table.select(["text", "url", "drop_reason"]).to_pylist():
                if row["drop_reason"] is None:
                    pages.append({"folder": folder, "text": row["text"], "url": row["url"]})
    return pages
