"""Turn raw HTML pages and PDFs into Markdown with ``$…$`` math and fenced code.

The engine calls ``extract_html`` and ``extract_pdf`` per document. Both return a
dataclass with the Markdown ``text``, which is empty when nothing worth keeping was
found (the engine then drops the document with a reason), and raise
``ExtractionError`` for input that cannot be parsed at all.
"""

from mimo_data.extract.encoding import decode_html
from mimo_data.extract.errors import ExtractionError
from mimo_data.extract.html import HtmlExtraction, extract_html, html_to_markdown
from mimo_data.extract.pdf import PdfExtraction, extract_pdf

__all__ = [
    "ExtractionError",
    "HtmlExtraction",
    "PdfExtraction",
    "decode_html",
    "extract_html",
    "extract_pdf",
    "html_to_markdown",
]
