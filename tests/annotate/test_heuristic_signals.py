"""HeuristicSignals and HeuristicFilter: math, code and Chinese kept, spam dropped with a reason."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mimo_data.annotate.heuristics import (
    FLOAT_SIGNALS,
    INT_SIGNALS,
    SIGNAL_COLUMNS,
    HeuristicFilter,
    HeuristicSignals,
    compute_signals,
    split_words,
)
from mimo_data.document import documents_from_rows, mark_dropped

ZH_ARTICLES = [
    "html2md4llm__mp.expected.md",
    "newspaper4k__chinese_article_001.expected.txt",
    "sitdown__juejin_paper1-juejin.expected.md",
    "sitdown__wechat_paper1-wechat.expected.md",
    "sitdown__zhihu_paper1-zhihu.expected.md",
]
MATH_PAGES = [
    "readability__mathjax.defuddle_expected.md",
    "defuddle__math--katex.expected.md",
    "defuddle__general--cp4space-jordan-algebra.expected.md",
]
CODE_PAGE = "WebMainBench__sample_dataset_w3school_numpy_creating_arrays.groundtruth.md"

PROSE = (
    "The pipeline reads each page once, extracts the main text, and keeps formulas and code "
    "blocks intact so that later steps can judge the writing around them. "
)


def _table(texts: list[str | None]) -> pa.Table:
    rows = [
        {"id": f"doc-{index}", "source": "test", "format": "html", "text": text}
        for index, text in enumerate(texts)
    ]
    return documents_from_rows(rows)


def _reasons(texts: list[str | None], **fields) -> list[str | None]:
    return HeuristicFilter(**fields)(_table(texts)).column("drop_reason").to_pylist()


def test_signal_columns_and_types():
    out = HeuristicSignals()(_table([PROSE * 3]))
    for name in INT_SIGNALS:
        assert out.schema.field(name).type == pa.int32(), name
    for name in FLOAT_SIGNALS:
        assert out.schema.field(name).type == pa.float32(), name
    assert out.column("n_words").to_pylist() == [3 * len(PROSE.split())]


def test_math_pages_kept(shared_dir):
    texts = [(shared_dir / "corpus" / "html_math" / name).read_text("utf-8") for name in MATH_PAGES]
    assert compute_signals(texts[0])["frac_math"] > 0.5, "expected a page that is mostly LaTeX"
    assert _reasons(texts) == [None] * len(MATH_PAGES)


def test_code_page_kept(shared_dir):
    text = (shared_dir / "corpus" / "html_zh" / CODE_PAGE).read_text("utf-8")
    signals = compute_signals(text)
    assert signals["frac_code"] > 0.45, "expected a page that is about half Python code"
    assert _reasons([text]) == [None]


def test_chinese_articles_kept(shared_dir):
    texts = [(shared_dir / "corpus" / "html_zh" / name).read_text("utf-8") for name in ZH_ARTICLES]
    assert _reasons(texts) == [None] * len(ZH_ARTICLES)


def test_chinese_words_counted_per_character(shared_dir):
    path = shared_dir / "corpus" / "html_zh" / "newspaper4k__chinese_article_001.expected.txt"
    text = path.read_text("utf-8")
    # Whitespace splitting finds a few dozen "words" in this 700-character article.
    assert len(text.split()) < 60
    assert compute_signals(text)["n_words"] > 600
    expected = ["中", "美", "合", "作", "共", "赢", "GPU"]
    assert split_words("中美合作，共赢 GPU") == expected


def test_repeated_code_lines_not_punished():
    # Code repeats lines ("}" or "print(arr)") and is symbol-dense; only prose is judged.
    block = "```c\n" + "    total += values[i];\n}\nprintf(\"%d\\n\", total);\n}\n" * 30 + "```\n"
    text = PROSE * 2 + "\n\n" + block + "\n" + PROSE.replace("pipeline", "reader")
    assert _reasons([text]) == [None]
    unfenced = text.replace("```c\n", "").replace("```\n", "")
    assert _reasons([unfenced]) == ["repetitive_lines"]


def test_spam_dropped_with_reason():
    repeated_lines = "\n".join([PROSE] + ["Click here to claim your free prize now!"] * 40)
    repeated_ngrams = "buy now " * 60
    words = PROSE.split() * 2
    symbols = " ".join(f"★★{word}➜➜#{index}" for index, word in enumerate(words))
    numbers = " ".join(str(1000 + index) for index in range(80))
    texts = ["Only a few words here.", repeated_lines, repeated_ngrams, symbols, numbers, None]
    assert _reasons(texts) == [
        "too_short",
        "repetitive_lines",
        "repetitive_ngrams",
        "high_symbols",
        "low_alpha",
        "no_text",
    ]


def test_worked_arithmetic_keeps_alpha():
    # A calculation written without $ delimiters is prose with numbers, not a number dump.
    text = "We substitute the values and simplify each term in turn. " * 6
    steps = [f"f({n}) = (3*{n} - 2)/({n} - 2) = {3 * n - 2}/{n - 2}." for n in range(3, 13)]
    text += "\n".join(steps)
    assert compute_signals(text)["alpha_ratio"] > 0.9
    assert _reasons([text]) == [None]


def test_disabled_rule_keeps_document():
    text = "buy now " * 60
    assert _reasons([text], max_top_2gram_frac=None, max_dup_line_frac=None) == [None]


def test_dropped_rows_untouched():
    table = _table(["Tiny.", PROSE * 5])
    table = mark_dropped(table, ["bad_encoding", None], step="extract")
    out = HeuristicFilter()(table)
    assert out.column("drop_reason").to_pylist() == ["bad_encoding", None]
    assert out.column("drop_step").to_pylist() == ["extract", None]
    for name in SIGNAL_COLUMNS:
        assert out.column(name).to_pylist()[0] is None, name


def test_filter_reuses_signal_columns():
    table = HeuristicSignals()(_table([PROSE * 5]))
    table = table.set_column(
        table.schema.get_field_index("n_words"), "n_words", pa.array([3], pa.int32())
    )
    assert HeuristicFilter()(table).column("drop_reason").to_pylist() == ["too_short"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_dup_line_frac", 1.5),
        ("min_alpha_ratio", -0.1),
        ("min_words", -1),
        ("min_prose_words", 2.5),
    ],
)
def test_invalid_config_names_field(field, value):
    with pytest.raises(ValueError, match=field):
        HeuristicFilter(**{field: value})
