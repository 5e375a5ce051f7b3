"""The error type of the extract package."""


class ExtractionError(Exception):
    """Raised for input that cannot be parsed at all: unreadable HTML, a broken or encrypted PDF."""
