"""Language tags of real Chinese, English, mixed and multilingual pages."""

from __future__ import annotations

from mimo_data.annotate.language import LanguageTagger
from mimo_data.document import documents_from_rows
from mimo_data.io import read_file
from mimo_data.steps import extract_text


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


# Multilingual news and blog pages with the language of their text, read by hand. The two
# German pages declare English in <html lang>, so a tagger trusting the markup gets them wrong.
MULTILINGUAL_PAGES = {
    "arteradio.com-nuls.html": "fr",
    "sauvonsluniversite.com.spip.html": "fr",
    "clarin.com-albertofernandez.html": "es",
    "elpais.com.ciencia.html": "es",
    "correiobraziliense.com.br-poderes.html": "pt",
    "heise.de.lithium.html": "de",
    "spontis.de.jahrzehnt.html": "de",
    "vergleich.de.leasen.html": "de",
    "caymancompass.com-prison.html": "en",
}


def test_multilingual_pages(shared_dir):
    tagger = LanguageTagger()
    folder = shared_dir / "corpus" / "html_general" / "trafilatura_eval"
    for name, expected in MULTILINGUAL_PAGES.items():
        rows = list(read_file("html", str(folder / name), source="trafilatura_eval"))
        text = extract_text(documents_from_rows(rows)).column("text")[0].as_py()
        assert tagger.tag(text)["lang"] == expected, name
