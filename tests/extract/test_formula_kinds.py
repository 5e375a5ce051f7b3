"""Tests for formula markup of Chinese editors, Wikipedia, WordPress and image renderers, and CJK encodings."""

from __future__ import annotations

import re

import pytest

from mimo_data.extract import extract_html

FILLER = "<p>" + "This paragraph is ordinary prose that gives the page enough body text. " * 4 + "</p>"
ZH_FILLER = "<p>" + "这是一段普通的正文，用来让页面有足够的中文内容可以被提取出来。" * 4 + "</p>"
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$]+?)\$", re.DOTALL)


def page(body: str, filler: str = FILLER, head: str = "") -> str:
    return f"<html><head><title>Test page</title>{head}</head><body><article>{filler}{body}{filler}</article></body></html>"


def spans(markdown: str) -> list[tuple[str, bool]]:
    """Return (TeX, display) for each $…$ / $$…$$ span."""
    return [(match.group(1) or match.group(2), match.group(1) is not None) for match in _MATH_SPAN_RE.finditer(markdown)]


# --- Chinese editors -------------------------------------------------------


def test_wechat_data_formula_inline_and_block():
    body = (
        '<p>公式 <span data-formula="a^2 + b^2" data-formula-type="inline-equation"><embed src="x.svg"></span> 成立。</p>'
        '<section data-formula="\\frac{1}{n}\n\\sum_i x_i" data-formula-type="block-equation"><embed src="y.svg"></section>'
    )
    found = spans(extract_html(page(body, ZH_FILLER)).text)
    assert ("a^2 + b^2", False) in found
    assert ("\\frac{1}{n}\n\\sum_i x_i", True) in found
    assert len(found) == 2


def test_zhihu_equation_image_placeholder_alt():
    src = "https://www.zhihu.com/equation?tex=E%3Dmc%5E2+%5C%5C"
    body = f'<p>质能方程：<img src="{src}" alt="[公式]" eeimg="1"></p>'
    text = extract_html(page(body, ZH_FILLER)).text
    assert "[公式]" not in text
    assert spans(text) == [("E=mc^2 \\\\", True)]


def test_zhihu_inline_data_formula_preferred():
    body = '<p>设 <img src="https://www.zhihu.com/equation?tex=x" alt="[公式]" data-formula="x_1" eeimg="1"> 为正。</p>'
    assert spans(extract_html(page(body, ZH_FILLER)).text) == [("x_1", False)]


# --- Wikipedia -------------------------------------------------------------


def _mwe_math(tex: str, display: bool) -> str:
    kind = "display" if display else "inline"
    return (
        f'<span class="mwe-math-element"><span class="mwe-math-mathml-{kind} mwe-math-mathml-a11y" style="display: none;">'
        f'<math xmlns="http://www.w3.org/1998/Math/MathML" alttext="{tex}"><semantics><mrow><mi>x</mi></mrow>'
        f'<annotation encoding="application/x-tex">{tex}</annotation></semantics></math></span>'
        f'<img src="https://wikimedia.org/api/rest_v1/media/math/render/svg/abc" class="mwe-math-fallback-image-{kind}" alt="{tex}">'
        "</span>"
    )


def test_wikipedia_mwe_math_not_doubled():
    inline = _mwe_math("{\\displaystyle x^{2}}", False)
    body = f"<p>Let {inline} be the square.</p><div>{_mwe_math('y=mx+b', True)}</div>"
    result = extract_html(page(body))
    assert spans(result.text) == [("{\\displaystyle x^{2}}", False), ("y=mx+b", True)]
    assert result.formula_count == 2
    assert result.text.count("x^{2}") == 1


def test_wikipedia_fallback_image_alone():
    body = (
        '<p>Area <span class="mwe-math-element"><img class="mwe-math-fallback-image-inline" '
        'src="https://wikimedia.org/api/rest_v1/media/math/render/svg/abc" alt="\\pi r^2"></span> here.</p>'
    )
    assert spans(extract_html(page(body)).text) == [("\\pi r^2", False)]


# --- WordPress -------------------------------------------------------------


def test_wordpress_katex_eq():
    body = (
        '<p>Inline <span class="wp-katex-eq" data-display="false">e^{i\\pi}+1=0</span> and</p>'
        '<p><span class="wp-katex-eq katex-display" data-display="true">\\int_0^1 x\\,dx</span></p>'
    )
    assert spans(extract_html(page(body)).text) == [("e^{i\\pi}+1=0", False), ("\\int_0^1 x\\,dx", True)]


def test_wordpress_latex_image_alt():
    src = "https://s0.wp.com/latex.php?latex=a_n%5E2&amp;bg=ffffff&amp;fg=000000&amp;s=0"
    body = f'<p>Term <img src="{src}" alt="a_n^2" class="latex" title="a_n^2"> grows.</p>'
    assert spans(extract_html(page(body)).text) == [("a_n^2", False)]


def test_wordpress_latex_image_query_without_alt():
    src = "https://s0.wp.com/latex.php?latex=%5Csqrt%7Bx%7D+%2B+1&amp;bg=ffffff&amp;s=0"
    body = f'<p>Root <img src="{src}" class="latex"> grows.</p>'
    assert spans(extract_html(page(body)).text) == [("\\sqrt{x} + 1", False)]


# --- image renderers and alt TeX -------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("https://latex.codecogs.com/svg.latex?\\frac{a}{b}&space;+&space;c", "\\frac{a}{b} + c"),
        ("https://latex.codecogs.com/png.image?%5Calpha%5E2", "\\alpha^2"),
        ("http://www.forkosh.com/mimetex.cgi?x^2+y^2", "x^2+y^2"),
        ("https://example.org/cgi-bin/mathtex.cgi?%5Csum_k%20k", "\\sum_k k"),
    ],
)
def test_renderer_url_query_is_tex(src, expected):
    body = f'<p>Value <img src="{src}"> here.</p>'
    assert spans(extract_html(page(body)).text) == [(expected, False)]


def test_alt_tex_on_tex_class_image():
    body = '<p>See <img class="tex" src="/img/f1.png" alt="\\beta_0 + \\beta_1 x"> fitted.</p>'
    assert spans(extract_html(page(body)).text) == [("\\beta_0 + \\beta_1 x", False)]


def test_ordinary_image_alt_not_math():
    body = '<p>A photo <img src="/img/cat.png" alt="x^2 cat"> here.</p>'
    result = extract_html(page(body))
    assert result.formula_count == 0
    assert spans(result.text) == []


# --- dollar signs ----------------------------------------------------------


def test_prices_not_math_without_config():
    result = extract_html(page("<p>Tickets cost $5 and $10 at the door.</p>"))
    assert "$5 and $10" in result.text
    assert result.formula_count == 0


def test_prices_not_math_with_dollar_config():
    config = "<script>MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']]}};</script>"
    result = extract_html(page("<p>Tickets cost $5 and $10, while $x_1$ is a formula.</p>", head=config))
    assert "Tickets cost $5 and $10" in result.text
    assert spans(result.text.split("while", 1)[1]) == [("x_1", False)]
    assert result.formula_count == 1


# --- encodings -------------------------------------------------------------


@pytest.mark.parametrize("charset", ["big5", "gbk", "gb2312"])
def test_declared_cjk_charset_decoded(charset):
    sentence = "數學公式與程式碼" if charset == "big5" else "数学公式与程序代码"
    body = f"<p>{sentence}：\\(x^2\\)。</p>"
    html = page(body, ZH_FILLER if charset != "big5" else "<p>" + "這是一段普通的正文，用來讓頁面有足夠的中文內容。" * 4 + "</p>")
    html = html.replace("<head>", f'<head><meta charset="{charset}">')
    result = extract_html(html.encode(charset))
    assert sentence in result.text
    assert "$x^2$" in result.text
    assert "\ufffd" not in result.text


# --- shared corpus ---------------------------------------------------------


@pytest.mark.parametrize("name", ["sitdown__wechat_formula", "sitdown__zhihu_formula"])
def test_chinese_formula_pages_match_expected(shared_dir, name):
    html_zh = shared_dir / "corpus" / "html_zh"
    expected = (html_zh / f"{name}.expected.md").read_text("utf-8")
    text = extract_html((html_zh / f"{name}.html").read_bytes()).text
    squeeze = lambda value: re.sub(r"\s+", "", value)  # noqa: E731
    expected_formulas = [squeeze(tex) for tex, _ in spans(expected)]
    found = "\x00".join(squeeze(tex) for tex, _ in spans(text))
    assert expected_formulas
    assert all(formula in found for formula in expected_formulas)


# --- MathJax 3 SVG output without a MathML copy ----------------------------


def glyphs(*codes: str) -> str:
    return "".join(f'<use data-c="{code}" xlink:href="#MJX-TEX-{code}"></use>' for code in codes)


def node(kind: str, inner: str, transform: str = "") -> str:
    attribute = f' transform="{transform}"' if transform else ""
    return f'<g data-mml-node="{kind}"{attribute}>{inner}</g>'


def svg(inner: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 -750 3000 1000"><defs><path id="MJX-TEX-1D438" d="M0 0"></path></defs>'
        f'<g stroke="currentColor" fill="currentColor" transform="scale(1,-1)">{node("math", inner)}</g></svg>'
    )


# E = mc^2 with math-italic code points, as MathJax 3.2 writes them.
EMC2 = (
    node("mi", glyphs("1D438"))
    + node("mo", glyphs("3D"), "translate(900,0)")
    + node("mi", glyphs("1D45A"), "translate(1800,0)")
    + node("msup", node("mi", glyphs("1D450")) + node("mn", glyphs("32"), "translate(433,413) scale(0.707)"), "translate(2600,0)")
)


def test_mathjax_svg_inline_formula_rebuilt():
    body = f'<p>Energy <mjx-container class="MathJax" jax="SVG">{svg(EMC2)}</mjx-container> holds.</p>'
    found = spans(extract_html(page(body)).text)
    assert found == [("E=m{c}^{2}", False)]


def test_mathjax_svg_display_fraction_and_root():
    # \frac{1}{\sqrt{2}}: the radical sign is an <mo> of its own in the drawing, and
    # transform-only groups sit between the nodes.
    root = node("msqrt", '<g transform="translate(853,0)">' + node("mn", glyphs("32")) + "</g>" + node("mo", glyphs("221A")))
    fraction = node("mfrac", node("mn", glyphs("31"), "translate(220,676)") + node("mrow", root, "translate(220,-686)") + "<rect></rect>")
    body = f'<mjx-container class="MathJax" jax="SVG" display="true">{svg(fraction)}</mjx-container>'
    found = spans(extract_html(page(body)).text)
    assert found == [("\\frac{1}{\\sqrt{2}}", True)]


def test_mathjax_svg_scripts_ordered_by_height():
    # The superscript is drawn before the subscript, so only its height marks it as the superscript.
    scripts = node("mn", glyphs("32"), "translate(600,400)") + node("mi", glyphs("1D456"), "translate(600,-250)")
    body = f'<p>Sum <mjx-container jax="SVG">{svg(node("msubsup", node("mi", glyphs("1D465")) + scripts))}</mjx-container> here.</p>'
    assert spans(extract_html(page(body)).text) == [("{x}_{i}^{2}", False)]


def test_mathjax_svg_bracket_pieces_and_text():
    pieces = node("mo", glyphs("239B", "239C", "239D"))
    label = node("mtext", '<text data-variant="normal">速度</text>')
    body = f'<p>Group <mjx-container jax="SVG">{svg(pieces + node("mi", glyphs("1D465")) + label)}</mjx-container> here.</p>'
    assert spans(extract_html(page(body)).text) == [("(x\\text{速度}", False)]


def test_wechat_bare_svg_inline_and_display():
    body = (
        f'<p>正则系综中 <span class="">{svg(node("mi", glyphs("78")))}</span> 的分布。</p>'
        f'<section style="text-align: center;">{svg(EMC2)}</section>'
    )
    found = spans(extract_html(page(body, ZH_FILLER)).text)
    assert found == [("x", False), ("E=m{c}^{2}", True)]


def test_mathjax_svg_with_mathml_copy_read_once():
    mathml = '<mjx-assistive-mml><math><mi>y</mi></math></mjx-assistive-mml>'
    body = f'<p>Value <mjx-container jax="SVG">{svg(node("mi", glyphs("1D465")))}{mathml}</mjx-container> here.</p>'
    assert spans(extract_html(page(body)).text) == [("y", False)]


def test_icon_svg_not_read_as_formula():
    body = '<p>Share <svg viewBox="0 0 10 10"><g><path d="M0 0"></path></g></svg> this page.</p>'
    result = extract_html(page(body))
    assert spans(result.text) == []
    assert result.formula_count == 0
