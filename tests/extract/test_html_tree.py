"""Tests for the tree changes made before trafilatura runs: deleted, flattened and marked elements."""

from __future__ import annotations

from mimo_data.extract import extract_html
from mimo_data.extract.html import _drop_cleaned_elements, _drop_unread_elements, _mark_paragraph_container, parse_html

FILLER = "<p>" + "This paragraph is ordinary prose that gives the page enough body text. " * 4 + "</p>"
CHINESE_PARAGRAPH = "<p>" + "这是一个普通的段落，用来给页面足够的正文长度，并且说明一个完整的意思。" * 3 + "</p>"


def test_unread_elements_deleted_keeping_tails():
    root = parse_html(
        "<html><head><style>p {}</style><meta name='a' content='b'></head><body><p>before"
        "<script>var x = 1;</script>after<svg><path d='M0'/></svg>end</p></body></html>"
    )
    _drop_unread_elements(root)
    assert next(root.iter("script", "style", "svg", "meta"), None) is None
    assert root.find(".//p").text_content() == "beforeafterend"


def test_math_and_json_ld_scripts_kept():
    root = parse_html(
        '<html><body><script type="math/tex">x^2</script>'
        '<script type="application/ld+json">{"@type": "Article"}</script>'
        '<script type="application/json">{"big": "state"}</script></body></html>'
    )
    _drop_unread_elements(root)
    kept_types = [script.get("type") for script in root.iter("script")]
    assert kept_types == ["math/tex", "application/ld+json"]


def test_nav_keeps_text_loses_elements():
    root = parse_html("<html><body><nav><ul><li><a href='/'>Home</a></li><li>About</li></ul></nav></body></html>")
    _drop_unread_elements(root)
    nav = root.find(".//nav")
    assert len(nav) == 0
    assert nav.text.split() == ["Home", "About"]


def test_nav_text_not_in_output():
    html = f"<html><body><nav><a href='/'>Home</a> <a href='/x'>Menu entry</a></nav><article>{FILLER}</article></body></html>"
    text = extract_html(html).text
    assert "ordinary prose" in text
    assert "Menu entry" not in text


def test_footer_without_math_deleted_before_walk():
    body = f"<article>{FILLER}</article><footer><p>Copyright</p><img src='logo.png'></footer>"
    result = extract_html(f"<html><body>{body}</body></html>")
    assert "Copyright" not in result.text
    assert result.formulas_dropped == 0


def test_footer_formula_image_counted_as_dropped():
    image = '<img class="latex" src="https://latex.codecogs.com/png.latex?x%5E2" alt="x^2">'
    body = f"<article>{FILLER}</article><footer><p>Footer {image}</p></footer>"
    result = extract_html(f"<html><body>{body}</body></html>")
    assert result.formulas_dropped == 1


def test_editor_section_becomes_article():
    root = parse_html(
        "<html><body><section style='color: black'>"
        + "<h2>第一节</h2>" + CHINESE_PARAGRAPH * 3 + "<h3>1.1 小节</h3>" + CHINESE_PARAGRAPH * 3
        + "</section></body></html>"
    )
    _mark_paragraph_container(root)
    assert root.find(".//section") is None
    assert len(root.find(".//article").findall("p")) == 6


def test_editor_headings_kept():
    html = (
        "<html><body><section style='color: black'>"
        + "<h2>第一节 背景</h2>" + CHINESE_PARAGRAPH * 3 + "<h3>1.1 战斗序章</h3>" + CHINESE_PARAGRAPH * 3
        + "</section></body></html>"
    )
    text = extract_html(html).text
    assert "## 第一节 背景" in text
    assert "### 1.1 战斗序章" in text


def test_page_with_article_not_marked():
    root = parse_html(f"<html><body><article>{FILLER}</article><section>{FILLER * 6}</section></body></html>")
    _mark_paragraph_container(root)
    assert len(list(root.iter("article"))) == 1
    assert root.find(".//section") is not None


def test_known_container_not_marked():
    # trafilatura's own XPath finds class="entry", so the page is left as it is.
    root = parse_html(f"<html><body><div class='entry'>{FILLER * 6}</div></body></html>")
    _mark_paragraph_container(root)
    assert root.find(".//article") is None


def test_nested_sections_not_marked():
    sections = "".join(f"<div><h2>Part {number}</h2>{FILLER * 2}</div>" for number in range(4))
    root = parse_html(f"<html><body><div>{sections}</div></body></html>")
    _mark_paragraph_container(root)
    assert root.find(".//article") is None


def test_thread_reply_with_mention_kept():
    question = "<div class='Post-body'><p>问题描述：访问社区时自动弹出登录窗口，访问子页会自动跳转到首页。</p></div>"
    reply = (
        "<div class='Post-body'><p><a href='/u/1' class='PostMention'>寒冰冽</a> 测试了，可以安装，是免费的。感谢！</p>"
        "<h3>安装</h3><p><code>composer require example/private-facade</code></p></div>"
    )
    later = "<div class='Post-body'><p>方法一还得加登录状态判断，也不简单了。</p></div>"
    text = extract_html(f"<html><body><h1>有没有强制用户登录插件？</h1>{question}{reply}{later}</body></html>").text
    assert "测试了，可以安装" in text
    assert "寒冰冽" in text
    assert "`composer require example/private-facade`" in text
    assert "方法一" in text


def test_inline_space_between_elements_kept():
    html = f"<html><body><article>{FILLER}<p><b>bold</b> <i>italic</i> words</p></article></body></html>"
    assert "**bold** *italic* words" in extract_html(html).text


def test_unread_elements_report_math_scripts():
    root = parse_html(
        "<html><head><script>MathJax = {tex: {inlineMath: [['$', '$']]}};</script>"
        "<script>var analytics = 1;</script></head><body><p>Text"
        '<script type="math/tex; mode=display">x^2</script></p></body></html>'
    )
    scripts = _drop_unread_elements(root)
    assert scripts.has_tex_scripts
    assert len(scripts.math_sources) == 1
    assert "inlineMath" in scripts.math_sources[0]
    assert [script.get("type") for script in root.iter("script")] == ["math/tex; mode=display"]


def test_input_deleted_and_nav_flattened_without_icons():
    root = parse_html(
        "<html><body><nav><a href='/'>Home<svg><title>house icon</title></svg></a> <a href='/b'>Blog</a></nav>"
        "<form><p>Search<input name='q'>now</p></form></body></html>"
    )
    _drop_unread_elements(root)
    assert root.find(".//nav").text.split() == ["Home", "Blog"]
    assert next(root.iter("input", "svg"), None) is None
    assert root.find(".//form/p").text_content() == "Searchnow"


def test_cleaned_elements_deleted_keeping_tails():
    root = parse_html(
        "<html><body><p>Pick <select><option>One</option></select>then <img src='a.png'>go"
        "<button>OK</button>.</p></body></html>"
    )
    _drop_cleaned_elements(root)
    assert root.find(".//p").text_content() == "Pick then go."
    assert next(root.iter("select", "option", "img", "button"), None) is None


def test_formula_in_deleted_element_counted_as_dropped():
    image = '<img class="latex" src="https://latex.codecogs.com/png.latex?x%5E2" alt="x^2">'
    body = f"<article>{FILLER}<p>See <picture>{image}</picture> here.</p>{FILLER}</article>"
    result = extract_html(f"<html><body>{body}</body></html>")
    assert result.formula_count == 0
    assert result.formulas_dropped == 1
