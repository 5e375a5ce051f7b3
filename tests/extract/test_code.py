"""Tests for code blocks: exact lines in fences, languages, and corpus pages."""

from __future__ import annotations

import json
import re

import lxml.html
import trafilatura
from extract_corpus import CORPUS

from mimo_data.extract import extract_html
from mimo_data.extract.code import CodeBlock, code_from_pre, is_inline_code_with_line_break, to_fence

HTML_CODE = CORPUS / "html_code"
FILLER = "<p>" + "This paragraph is ordinary prose that gives the page enough body text. " * 4 + "</p>"


def page(body: str) -> str:
    return f"<html><head><title>Code page</title></head><body><article>{FILLER}{body}{FILLER}</article></body></html>"


def expected_blocks(name: str) -> list[str]:
    listing = json.loads((HTML_CODE / name.replace(".html", ".expected_code.json")).read_text("utf-8"))
    return [item["content"].rstrip("\n") for item in listing["expected"] if item["kind"] == "block_file"]


def test_pre_keeps_indentation_and_language():
    body = '<pre><code class="language-python">def f(x):\n    if x:\n\treturn "$HOME"\n\n    return 2\n</code></pre>'
    result = extract_html(page(body))
    assert '```python\ndef f(x):\n    if x:\n\treturn "$HOME"\n\n    return 2\n```' in result.text
    assert result.code_block_count == 1


def test_dollar_math_in_code_untouched():
    head = "<script>MathJax = {tex: {inlineMath: [['$', '$']]}};</script>"
    html = page(r"<p>Shell:</p><pre>echo $a_1 $b_2 \(x\)</pre>").replace("<head>", "<head>" + head)
    result = extract_html(html)
    assert "```\necho $a_1 $b_2 \\(x\\)\n```" in result.text
    assert result.formula_count == 0


def test_fence_longer_than_backtick_runs():
    assert to_fence(CodeBlock("use ``` here", None)) == "````\nuse ``` here\n````"


def test_br_and_line_elements_in_pre():
    pre = lxml.html.fromstring(
        '<pre><div class="line"><span class="ln" aria-hidden="true">1</span>a = 1</div>'
        '<div class="line"><span class="ln" aria-hidden="true">2</span>  b = 2</div></pre>'
    )
    assert code_from_pre(pre).text == "a = 1\n  b = 2"
    assert code_from_pre(lxml.html.fromstring("<pre>x<br>y<br><br>z</pre>")).text == "x\ny\n\nz"


def test_code_inside_figure_kept():
    # trafilatura alone deletes <figure> elements with their content.
    result = extract_html(page('<figure class="frame"><pre><code>line one\n  line two</code></pre></figure>'))
    assert "```\nline one\n  line two\n```" in result.text


def test_prismjs_blocks_verbatim():
    raw = (HTML_CODE / "webkit__prismjs.html").read_bytes()
    fenced = re.findall(r"```[^\n]*\n(.*?)\n```", extract_html(raw).text, re.DOTALL)
    multi_line = [block for block in expected_blocks("webkit__prismjs.html") if "\n" in block]
    assert len(multi_line) >= 4
    for block in multi_line:
        assert block in fenced


def test_prismjs_beats_bare_trafilatura():
    raw = (HTML_CODE / "webkit__prismjs.html").read_bytes()
    baseline = trafilatura.extract(raw.decode("utf-8"), output_format="markdown", include_formatting=True) or ""
    ours = extract_html(raw).text
    blocks = expected_blocks("webkit__prismjs.html")
    assert sum(block in ours for block in blocks) > sum(block in baseline for block in blocks)


def test_forum_br_code_block_verbatim():
    # A vBulletin <code> block whose lines are <br> separated and indented with &nbsp;.
    raw = (HTML_CODE / "webkit__cprograming.html").read_bytes()
    (block,) = expected_blocks("webkit__cprograming.html")
    assert "\n    return 0;\n" in block
    assert f"```\n{block}\n```" in extract_html(raw).text


def test_expressive_code_blocks_match_reference():
    name = "defuddle__codeblocks--rockthejvm.com-articles-kotlin-101-type-classes"
    reference = (HTML_CODE / f"{name}.expected.md").read_text("utf-8")
    reference_blocks = re.findall(r"```kotlin\n(.*?)\n```", reference, re.DOTALL)
    result = extract_html((HTML_CODE / f"{name}.html").read_bytes())
    assert len(reference_blocks) >= 2
    for block in reference_blocks:
        assert f"```kotlin\n{block}\n```" in result.text


# --- inline code broken over source lines ----------------------------------


def _first_code(html: str) -> lxml.html.HtmlElement:
    return next(lxml.html.fromstring(html).iter("code"))


def test_inline_code_line_break_stays_inline():
    text = extract_html(page("<p>Write it with <code>Markdown\n        Nice</code> and publish.</p>")).text
    assert "Write it with `Markdown Nice` and publish." in text
    assert "```" not in text


def test_inline_code_in_emphasis_stays_inline():
    text = extract_html(page("<p>Then press <strong><code>Ctrl\n   + v</code></strong> to paste.</p>")).text
    assert "`Ctrl + v`" in text
    assert "```" not in text


def test_inline_code_edge_spaces_move_outside():
    text = extract_html(page("<p>Call<code>\n  open(path)\n</code>first.</p>")).text
    assert "Call `open(path)` first." in text


def test_code_alone_in_paragraph_stays_block():
    text = extract_html(page("<p><code>./configure --prefix=/usr\nmake install</code></p>")).text
    assert "```\n./configure --prefix=/usr\nmake install\n```" in text


def test_long_code_in_paragraph_stays_block():
    lines = "\n".join(f"step_{number}()" for number in range(5))
    text = extract_html(page(f"<p>Run this:<code>{lines}</code></p>")).text
    assert f"```\n{lines}\n```" in text


def test_inline_code_check_rejects_pre_and_single_line():
    assert not is_inline_code_with_line_break(_first_code("<div><p>Text <code>one line</code> here</p></div>"))
    assert not is_inline_code_with_line_break(_first_code("<div><pre><span><code>a\nb</code></span></pre></div>"))
    assert is_inline_code_with_line_break(_first_code("<div><p>Text <code>a\nb</code> here</p></div>"))
