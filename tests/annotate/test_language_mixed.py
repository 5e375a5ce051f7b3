"""Language tags of real Chinese, English and mixed pages."""

from __future__ import annotations

from mimo_data.annotate.language import LanguageTagger


def test_chinese_english_and_mixed(shared_dir):
    tagger = LanguageTagger()
    chinese = (shared_dir / "corpus" / "html_zh" / "newspaper4k__chinese_article_001.expected.txt").read_text("utf-8")
    english = (shared_dir / "text" / "peps" / "pep-0020.rst").read_text("utf-8")
    assert tagger.tag(chinese)["lang"] == "zh"
    assert tagger.tag(english)["lang"] == "en"

    mixed = tagger.tag(chinese[:1500] + "\n\n" + english)
    assert {mixed["lang"], mixed["lang_secondary"]} == {"zh", "en"}
    assert 0.2 < mixed["lang_secondary_frac"] < 0.8


def test_formulas_do_not_change_language():
    tagger = LanguageTagger()
    text = "这是一个关于二次方程的例子，我们先求判别式。$$x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}$$ 所以方程有两个实数根。"
    assert tagger.tag(text)["lang"] == "zh"
