"""Record ranges: reading every range of a file in order gives exactly the rows of a whole-file read."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mimo_data.io import read_file
from mimo_data.io.ranges import RecordRange, read_range, scan_ranges


def whole_rows(fmt: str, path: str) -> list[dict]:
    return list(read_file(fmt, path, source="s", domain="web"))


def ranged_rows(fmt: str, path: str, ranges: list[RecordRange]) -> list[dict]:
    return [row for record_range in ranges for row in read_range(fmt, path, record_range, source="s", domain="web")]


def jsonl_lines(count: int) -> list[bytes]:
    lines = []
    for number in range(count):
        if number % 5 == 3:
            lines.append(b"\n")  # blank lines get no row but still count for #line=
        elif number % 7 == 6:
            lines.append(b"{not json\n")
        else:
            lines.append(json.dumps({"text": f"document {number}", "url": f"https://example.org/{number}"}).encode() + b"\n")
    return lines


@pytest.mark.parametrize("name", ["records.jsonl", "records.jsonl.gz"])
def test_jsonl_ranges_match_whole_file(tmp_path, name):
    path = tmp_path / name
    data = b"".join(jsonl_lines(40))
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)

    ranges = scan_ranges("jsonl", str(path), 6)
    whole = whole_rows("jsonl", str(path))

    assert len(ranges) == -(-len(whole) // 6)
    assert ranged_rows("jsonl", str(path), ranges) == whole
    assert [r.stop for r in ranges[:-1]] == [r.start for r in ranges[1:]]
    assert ranges[-1].stop is None


def test_jsonl_range_reads_no_earlier_line(tmp_path):
    path = tmp_path / "records.jsonl"
    lines = jsonl_lines(20)
    path.write_bytes(b"".join(lines))
    ranges = scan_ranges("jsonl", str(path), 5)
    expected = ranged_rows("jsonl", str(path), ranges[1:])

    # Garbage of the same length over the first line: a range that seeks past it never reads it.
    path.write_bytes(b"x" * (len(lines[0]) - 1) + b"\n" + b"".join(lines[1:]))

    assert ranges[1].offset > 0
    assert ranged_rows("jsonl", str(path), ranges[1:]) == expected


def test_parquet_ranges_match_whole_file(tmp_path):
    path = tmp_path / "records.parquet"
    texts = [f"row {number}" if number % 9 else None for number in range(50)]
    table = pa.table({"text": texts, "url": [f"https://example.org/{n}" for n in range(50)]})
    pq.write_table(table, path, row_group_size=7)

    ranges = scan_ranges("parquet", str(path), 10)
    whole = whole_rows("parquet", str(path))

    assert [(r.start, r.stop) for r in ranges] == [(0, 10), (10, 20), (20, 30), (30, 40), (40, None)]
    assert ranged_rows("parquet", str(path), ranges) == whole
    assert sum(row["drop_reason"] == "parquet_missing_text" for row in whole) == 6


def test_warc_ranges_match_whole_file(shared_dir):
    checked = 0
    for path in sorted((shared_dir / "corpus" / "warc").iterdir()):
        whole = whole_rows("warc", str(path))
        for rows_per_range in (1, 2, 5):
            ranges = scan_ranges("warc", str(path), rows_per_range)
            assert ranged_rows("warc", str(path), ranges) == whole, f"{path.name}, {rows_per_range} rows per range"
            checked += len(ranges) > 1
    assert checked >= 10  # most archives were really cut into several ranges


def test_warc_range_starts_at_its_record(shared_dir):
    path = shared_dir / "corpus" / "warc" / "resiliparse__warcfile.warc.gz"
    ranges = scan_ranges("warc", str(path), 10)
    rows = list(read_range("warc", str(path), ranges[2], source="s"))

    assert len(rows) == ranges[2].stop - ranges[2].start
    assert rows[0]["path"] == f"{path}#offset={ranges[2].offset}"


def test_html_file_is_one_range(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<html><body><p>Hello</p></body></html>")

    assert scan_ranges("html", str(path), 1) == [RecordRange(start=0, stop=None)]
