"""The error type of the extract package."""


class ExtractionError(Exception):
    """Raised for input that cannot be parsed at all: unreadable HTML, a broken or encrypted PDF.

    ``reason`` is the short drop reason recorded for the document (for example
    "pdf_encrypted" or "pdf_no_text_layer"); it defaults to "extraction_failed".
    """

    def __init__(self, message: str, *, reason: str = "extraction_failed"):
        super().__init__(message)
        self.reason = reason
