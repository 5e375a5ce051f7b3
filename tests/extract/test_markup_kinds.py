"""Tests for markup kinds: code-view tables, forum code lists, katex.render, HTML formulas, threads."""

from __future__ import annotations

import json
import re

import lxml.html

from mimo_data.extract import extract_html, html_to_markdown
from mimo_data.extract.math import mathml_to_tex

FILLER = "<p>" + "This paragraph is ordinary prose that gives the page enough body text. " * 4 + "</p>"
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$]+?)\$", re.DOTALL)


def page(body: str, head: str = "") -> str:
    return f"<html><head><title>Test page</title>{head}</head><body><article>{FILLER}{body}{FILLER}</article></body></html>"


def test_html_to_markdown_matches_extract_html():
    html = page(r"<p>Let \(x_1\) be given.</p>")
    assert html_to_markdown(html, url="https://example.org/a") == extract_html(html).text
    assert "$x_1$" in html_to_markdown(html)


def test_code_view_table_becomes_one_fence():
    rows = "".join(
        f'<tr><td class="lines-num" data-line-number="{number}"></td>'
        f'<td class="lines-code"><code>{line}\n</code></td></tr>'
        for number, line in enumerate(["def f(x):", "\treturn x", "", "    # done"], start=1)
    )
    result = extract_html(page(f"<table>{rows}</table>"))
    assert "```\ndef f(x):\n\treturn x\n\n    # done\n```" in result.text
    assert result.code_block_count == 1
    assert "lines-num" not in result.text


def test_numbered_data_table_not_code():
    rows = "".join(f'<tr><td class="lineno">{n}</td><td>Paris</td></tr>' for n in range(1, 4))
    result = extract_html(page(f"<table>{rows}</table>"))
    assert result.code_block_count == 0


def test_forum_list_code_block():
    listing = (
        '<div class="blockcode"><ol><li>def f():<br></li><li>\u00a0 \u00a0 return 1<br></li><li><br></li>'
        "<li>print(f())</li></ol><em>copy code</em></div>"
    )
    result = extract_html(page(listing))
    assert "```\ndef f():\n    return 1\n\nprint(f())\n```" in result.text
    assert "copy code" not in result.text


def test_katex_render_call_fills_target():
    body = '<p>See <span id="target">...</span> here.</p><script>katex.render("a_1 + \\\\frac{1}{2}", target);</script>'
    result = extract_html(page(body))
    assert r"See $a_1 + \frac{1}{2}$ here." in result.text


def test_html_formula_with_sub():
    result = extract_html(page('<p class="math">T<sub>(min)</sub> = 4.7 yr &times; 525600 min</p>'))
    assert "$$T_{(min)} = 4.7 yr × 525600 min$$" in result.text


def test_math_class_prose_not_formula():
    result = extract_html(page('<p class="math">Chapter one covers the basics of counting</p>'))
    assert result.formula_count == 0
    assert "Chapter one covers the basics of counting" in result.text


def test_adjacent_formulas_separated():
    body = '<p>A strain of <span class="math-container">$\\delta L \\over L$$=10^{-21}$</span> is small.</p>'
    spans = [m.group(1) or m.group(2) for m in _MATH_SPAN_RE.finditer(extract_html(page(body)).text)]
    assert spans == [r"\delta L \over L", "=10^{-21}"]


def test_mathml_brackets_pair_with_scripts():
    math = lxml.html.fromstring(
        "<math><mo>(</mo><mn>1</mn><mo>+</mo><mi>x</mi><msup><mo>)</mo><mn>2</mn></msup>"
        "<munderover><mo>∑</mo><mi>k</mi><mi>n</mi></munderover><mi mathvariant='normal'>∂</mi>"
        "<mo>{</mo><mi>φ</mi><mo>}</mo></math>"
    )
    assert mathml_to_tex(math) == r"{\left(1+x\right)}^{2}\sum _{k}^{n}\mathrm{\partial }\left\{\varphi \right\}"


def test_mathml_table_column_alignment():
    math = lxml.html.fromstring(
        '<math><mtable columnalign="right left"><mtr><mtd><mi>x</mi></mtd><mtd><mo>=</mo><mn>1</mn></mtd>'
        "<mtd><mn>2</mn></mtd></mtr></mtable></math>"
    )
    assert mathml_to_tex(math) == r"\begin{array}{rll}x & =1 & 2\end{array}"


def test_thread_keeps_every_answer_and_comment():
    question = '<div class="s-prose js-post-body"><p>' + "How do black holes merge at all, please explain? " * 5 + "</p></div>"
    answer = '<div class="s-prose js-post-body"><p>Short answer: \\(h \\propto 1/r\\).</p></div>'
    comment = '<span class="comment-copy">Depends on $d$ too.</span>'
    sidebar = "<aside><ul><li><a href='/x'>Hot network questions</a></li></ul></aside>"
    html = f"<html><body><h1>Merging black holes</h1><main>{question}{answer}{comment}</main>{sidebar}</body></html>"
    text = extract_html(html).text
    assert "How do black holes merge" in text
    assert r"$h \propto 1/r$" in text
    assert "Depends on" in text
    assert "Hot network questions" not in text


def test_single_post_page_unchanged():
    html = page('<div class="postbody"><p>Only one post body on this page.</p></div>')
    assert "Only one post body on this page." in extract_html(html).text


# --- corpus ----------------------------------------------------------------


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_corpus_formula_recall(shared_dir):
    found = expected = 0
    for html_path in sorted((shared_dir / "corpus" / "html_math").glob("webkit__*.html")):
        listings = [html_path.with_name(html_path.name.replace(".html", f".expected_{k}_formulas.txt")) for k in ("inline", "display")]
        if not all(listing.exists() for listing in listings):
            continue
        formulas = [line for listing in listings for line in listing.read_text("utf-8").splitlines() if line.strip()]
        text = extract_html(html_path.read_bytes()).text
        spans = "\x00".join(_squeeze(m.group(1) or m.group(2)) for m in _MATH_SPAN_RE.finditer(text))
        found += sum(1 for formula in formulas if _squeeze(formula) in spans)
        expected += len(formulas)
    assert expected >= 478
    assert found / expected >= 0.98


def test_corpus_code_block_recall(shared_dir):
    found = expected = 0
    for listing_path in sorted((shared_dir / "corpus" / "html_code").glob("webkit__*.expected_code.json")):
        listing = json.loads(listing_path.read_text("utf-8"))
        blocks = [item["content"].rstrip("\n") for item in listing.get("expected", []) if item.get("kind") == "block_file"]
        # The Discuz reference ends with the label of its "copy code" button, which is not code.
        blocks = [block.removesuffix("\n复制代码") for block in blocks]
        if not blocks:
            continue
        text = extract_html((listing_path.parent / listing["html"]).read_bytes()).text
        found += sum(1 for block in blocks if block in text)
        expected += len(blocks)
    assert expected >= 17
    assert found / expected >= 0.98
