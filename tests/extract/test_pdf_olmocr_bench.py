"""Scores of extract_pdf on the olmOCR-bench style unit tests of the shared PDFs, and the checker itself."""

from __future__ import annotations

import json

import pytest

from mimo_data.extract import extract_pdf
from mimo_data.extract.pdf.olmocr_checks import check, latex_tokens


@pytest.fixture(scope="module")
def bench(shared_dir):
    pdf_dir = shared_dir / "corpus" / "pdf"
    tests = [json.loads(line) for line in (pdf_dir / "olmocr__bench_tests_subset.jsonl").read_text("utf-8").splitlines() if line]
    markdown = {name: extract_pdf((pdf_dir / f"olmocr__{name}").read_bytes()).text for name in {test["pdf"] for test in tests}}
    return tests, markdown


def test_unit_test_share_at_least_085(bench):
    tests, markdown = bench
    failed = [test["id"] for test in tests if not check(test, markdown[test["pdf"]])]
    assert len(tests) == 33
    assert (len(tests) - len(failed)) / len(tests) >= 0.85, failed


def test_math_test_share_at_least_half(bench):
    tests, markdown = bench
    math_tests = [test for test in tests if test["type"] == "math"]
    passed = [test["id"] for test in math_tests if check(test, markdown[test["pdf"]])]
    assert len(math_tests) == 8
    assert len(passed) / len(math_tests) >= 0.5, passed


def test_latex_tokens_equivalent_spellings():
    assert latex_tokens(r"x^2 + \left( a \right)") == latex_tokens(r"x^{2}+(a)")
    assert latex_tokens(r"\operatorname{Ann}_R") == latex_tokens("Ann_{R}")
    assert latex_tokens("g'") == latex_tokens(r"g^{\prime}")
    assert latex_tokens(r"x^{2}") != latex_tokens(r"x_{2}")


def test_checks_reject_wrong_markdown():
    assert not check({"type": "math", "math": "a^{2}"}, "$a_{2}$ and a^2 outside math")
    assert check({"type": "math", "math": "a^{2}"}, "so $$a^2+b^2$$ holds")
    assert not check({"type": "present", "text": "hello world"}, "hello wrld")
    assert check({"type": "present", "text": "hello world", "max_diffs": 1}, "say hello wrld")
    assert not check({"type": "absent", "text": "footer"}, "a footer line")
    assert not check({"type": "order", "before": "second", "after": "first"}, "first then second")
    table = "| Name | Size |\n|---|---|\n| a | 1 |\n| b | 2 |"
    assert check({"type": "table", "cell": "2", "up": "1", "left": "b", "top_heading": "Size"}, table)
    assert not check({"type": "table", "cell": "2", "up": "b"}, table)
