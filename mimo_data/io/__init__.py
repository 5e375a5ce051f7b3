"""Input readers: turn WARC, HTML, PDF, JSONL and Parquet files into document rows."""

from mimo_data.io.common import InputError
from mimo_data.io.readers import EXTENSIONS, FORMATS, list_inputs, read_file

__all__ = ["EXTENSIONS", "FORMATS", "InputError", "list_inputs", "read_file"]
