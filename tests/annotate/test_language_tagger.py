"""LanguageTagger on real Chinese articles, real English PEPs, and math- or code-only pages."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mimo_data.annotate.language import LanguageTagger, prose_for_language_id
from mimo_data.document import documents_from_rows, mark_dropped

# Chinese articles with reference Markdown or text. The mathworks page in the same folder is
# left out: its content is English under a Chinese navigation menu.
ZH_ARTICLES = [
    "html2md4llm__mp.expected.md",
    "newspaper4k__chinese_article_001.expected.txt",
    "sitdown__juejin_paper1-juejin.expected.md",
    "sitdown__wechat_paper1-wechat.expected.md",
    "sitdown__wechat_paper4-wechat.expected.md",
    "sitdown__wechat_paper5-wechat.expected.md",
    "sitdown__zhihu_paper1-zhihu.expected.md",
]
# Reference outputs made only of a code fence or display formulas, with a word or two.
NO_PROSE_PAGES = [
    "sitdown__wechat_fence.expected.md",
    "sitdown__wechat_formula.expected.md",
    "sitdown__zhihu_formula.expected.md",
]


@pytest.fixture(scope="module")
def tagger() -> LanguageTagger:
    return LanguageTagger()


def _table(texts: list[str | None]) -> pa.Table:
    rows = [
        {"id": f"doc-{index}", "source": "test", "format": "html", "text": text}
        for index, text in enumerate(texts)
    ]
    return documents_from_rows(rows)


def test_chinese_articles_tagged_zh(tagger, shared_dir):
    texts = [(shared_dir / "corpus" / "html_zh" / name).read_text("utf-8") for name in ZH_ARTICLES]
    out = tagger(_table(texts))
    assert out.column("lang").to_pylist() == ["zh"] * len(ZH_ARTICLES)
    assert min(out.column("lang_score").to_pylist()) > 0.9


def test_peps_tagged_en(tagger, shared_dir):
    paths = sorted((shared_dir / "text" / "peps").glob("pep-*.rst"))
    assert len(paths) >= 100, "expected the PEP collection in the shared folder"
    out = tagger(_table([path.read_text("utf-8") for path in paths]))
    wrong = [
        (path.name, lang)
        for path, lang in zip(paths, out.column("lang").to_pylist())
        if lang != "en"
    ]
    assert wrong == []
    assert out.schema.field("lang_score").type == pa.float32()


def test_math_or_code_only_pages_und(tagger, shared_dir):
    folder = shared_dir / "corpus" / "html_zh"
    texts = [(folder / name).read_text("utf-8") for name in NO_PROSE_PAGES]
    out = tagger(_table(texts))
    assert out.column("lang").to_pylist() == ["und"] * len(NO_PROSE_PAGES)
    assert out.column("lang_score").to_pylist() == [0.0] * len(NO_PROSE_PAGES)


def test_markup_removed_before_prediction(shared_dir):
    # Inline SVG formulas in this article are kilobytes of path data; without removing the
    # tags, lid.176 gives "zh" only 0.36 probability.
    path = shared_dir / "corpus" / "html_zh" / "sitdown__wechat_paper4-wechat.expected.md"
    text = path.read_text("utf-8")
    assert "<svg" in text
    prose = prose_for_language_id(text)
    assert "<svg" not in prose
    assert "https://" not in prose
    assert "\n" not in prose
    assert "微信公众号" in prose


def test_fenced_code_and_math_ignored(tagger):
    prose = "这是一篇关于机器学习的文章，我们用简单的例子解释梯度下降的原理和实现方法。"
    loop = "for step in range(100):\n    weights -= rate * gradient(weights)\n"
    code = "```python\n" + loop * 5 + "```"
    math = "$$\\theta_{t+1} = \\theta_t - \\eta \\nabla_\\theta L(\\theta_t)$$"
    # On the raw text, lid.176 predicts "en" (0.54), swayed by the Python code.
    lang, score = tagger.predict(f"{prose}\n\n{code}\n\n{math}\n")
    assert lang == "zh"
    assert score > 0.9


def test_dropped_and_missing_text_rows(tagger):
    table = _table(["This is an English sentence about data pipelines.", "Another one.", None])
    table = mark_dropped(table, [None, "too_short", None], step="earlier")
    out = tagger(table)
    assert out.column("lang").to_pylist() == ["en", None, None]
    assert out.column("lang_score").to_pylist()[1:] == [None, None]
    assert out.column("drop_reason").to_pylist() == [None, "too_short", None]


def test_min_chars_validated():
    with pytest.raises(ValueError, match="min_chars"):
        LanguageTagger(min_chars=0)
