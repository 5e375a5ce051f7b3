"""HTML to Markdown: an lxml pre-pass protects math and code, trafilatura finds the main content.

Steps of ``extract_html``:

1. decode bytes (encoding.py) and parse once with lxml;
2. rebuild MathJax SVG formulas as MathML, then delete the elements that
   trafilatura deletes unread (scripts, styles, SVG, navigation, boilerplate
   without formulas), so that neither the walk nor trafilatura's copies of the
   tree visit them. The scripts are read for math settings on the way out;
3. walk the tree once. Every formula (MathJax script, MathML, KaTeX, formula
   image, TeX in text) becomes an inline token such as ``MIMOMATH0007X``. Every
   code block becomes a ``<p>`` with a token such as ``MIMOCODE0003X``. Rendered
   copies of formulas whose TeX source is on the page are removed, and inline
   ``<code>`` broken over source lines gets its whitespace collapsed;
4. keep only the posts of forum and Q&A threads, mark the paragraph container
   of pages that trafilatura cannot frame as an ``<article>``, and strip or delete
   the other elements that trafilatura strips or deletes unread (images, form
   controls, embedded media);
5. run ``trafilatura.extract`` on the rewritten tree with Markdown output;
6. put the formulas back as ``$…$`` / ``$$…$$`` and the code blocks as fences.

Tokens keep trafilatura from reflowing code, escaping ``_`` and ``*`` in TeX and
dropping ``<math>``. Formulas and code blocks whose token trafilatura left out (for
example in a sidebar it judged boilerplate) are counted as dropped.
"""

from __future__ import annotations

import codecs
import collections
import logging
import re
from dataclasses import dataclass, field

import lxml.etree
import lxml.html
import trafilatura
import trafilatura.xpaths
from lxml.html import HtmlElement

from mimo_data.extract.code import (
    CodeBlock,
    code_from_br_lines,
    code_from_line_table,
    code_from_list_block,
    code_from_pre,
    collapse_code_whitespace,
    is_br_code_block,
    is_inline_code_with_line_break,
    is_line_table,
    is_list_code_block,
    to_fence,
)
from mimo_data.extract.encoding import decode_html
from mimo_data.extract.errors import ExtractionError
from mimo_data.extract.math import (
    Formula,
    TextDelimiters,
    clean_tex,
    delimiters_from_config,
    formula_from_data_attribute,
    formula_from_image,
    formula_from_katex,
    formula_from_raw_tex,
    formula_from_wikipedia,
    formulas_from_katex_render,
    formulas_from_math_class,
    formula_from_mathml,
    is_mathjax_svg,
    mathml_from_mathjax_svg,
    formula_from_script,
    is_macro_definition,
    local_name,
    split_tex_spans,
    to_markdown,
)

logger = logging.getLogger(__name__)

# favor_recall stays off. With trafilatura 2.3.1 it kept fewer of the expected formulas
# on the webkit math pages (439 against 456 of 478), lost a StackExchange answer, and
# copied source indentation into prose. fast=True skips the readability and jusText
# fallbacks. On the scrapinghub_aeb pages of benchmarks/extraction.py it raised token F1
# from 0.954 to 0.958 and our rate from 37 to 52 documents/s (one run on a shared 2-core machine).
TRAFILATURA_OPTIONS = {
    "fast": True,
    "output_format": "markdown",
    "include_formatting": True,
    "include_tables": True,
    "include_comments": False,
    "include_images": False,
    "include_links": False,
    "favor_recall": False,
}

# Elements whose text is not prose: TeX-looking text inside them is left alone.
_OPAQUE_TAGS = {
    "head", "script", "style", "noscript", "template", "textarea", "select", "svg",
    "code", "kbd", "samp", "tt", "var", "button",
}
# Rendered output of MathJax 2 (previews, HTML-CSS, SVG, CommonHTML, NativeMML).
_MATHJAX_OUTPUT_CLASSES = {
    "MathJax_Preview", "MathJax", "MathJax_Display", "MathJax_SVG", "MathJax_SVG_Display",
    "MathJax_CHTML", "MathJax_PHTML", "MathJax_MathML", "MathJax_MathContainer",
}
_BLOCK_CONTAINER_TAGS = {
    "body", "div", "section", "article", "main", "header", "footer", "aside", "center",
    "figure", "blockquote", "form", "details",
}
# Class names of one post's text in forum and Q&A software: StackExchange (posts and
# comments), XenForo 1 and 2, vBulletin 4, Discourse, Discuz, Flarum, phpBB, Invision.
_POST_BODY_CLASSES = frozenset({
    "js-post-body", "comment-copy", "messageText", "bbWrapper", "postcontent", "cooked", "t_f",
    "Post-body", "postbody", "post_body", "cPost_contentWrap",
})
_POST_BODY_CLASS_RE = re.compile(
    r"(?<!\S)(?:" + "|".join(re.escape(name) for name in sorted(_POST_BODY_CLASSES)) + r")(?!\S)"
)
# _mark_paragraph_container acts on pages with at least MIN_CONTAINER_PARAGRAPHS <p>
# holding PARAGRAPH_TEXT_SHARE of the text, and marks the innermost <div> or <section>
# holding CONTAINER_TEXT_SHARE of the paragraph text, provided that its own <p> children
# hold DIRECT_PARAGRAPH_SHARE of the paragraph text under it. Chosen on the html_zh and
# scrapinghub_aeb pages of benchmarks/extraction.py: forum pages, whose posts are not
# in <p>, stay below 0.1 paragraph share, and editor exports are above 0.6.
MIN_CONTAINER_PARAGRAPHS = 5
PARAGRAPH_TEXT_SHARE = 0.5
CONTAINER_TEXT_SHARE = 0.9
DIRECT_PARAGRAPH_SHARE = 0.5
# Fewer post bodies than this is an article with a comment widget, not a thread.
MIN_THREAD_POSTS = 2
_BLOCK_TAGS = _BLOCK_CONTAINER_TAGS | {
    "p", "pre", "ul", "ol", "dl", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
}
_TEX_SOURCE_CLASSES = {"math-container", "math", "tex", "latex", "arithmatex", "mathjax-tex"}
# Elements whose whole text is TeX without delimiters (WordPress "KaTeX" plugin).
_RAW_TEX_CLASSES = {"wp-katex-eq"}
# Tags that _protect_element can replace whatever their class, and a cheap test for a
# class attribute that may name a formula (KaTeX, MathJax output, TeX source classes).
# Elements passing neither are not inspected further, which keeps the walk fast.
_CANDIDATE_TAGS = frozenset({"pre", "code", "table", "script", "math", "img", "mjx-container"})
_MAYBE_FORMULA_CLASS_RE = re.compile(r"math|Math|tex|TeX")
# Tags whose element trafilatura 2.3.1 replaces by its content (MANUALLY_STRIPPED in its
# settings) before it reads the tree for content. <address>, <hgroup> and <template>
# are left to trafilatura because its page-length measure treats them apart.
_STRIPPED_TAGS = (
    "abbr", "acronym", "bdi", "bdo", "big", "cite", "data", "dfn", "font", "img", "ins", "mark",
    "nobr", "ruby", "small", "tbody", "tfoot", "thead", "wbr",
)
# Tags whose element trafilatura 2.3.1 deletes with its subtree (MANUALLY_CLEANED in its
# settings) before it reads the tree for content. <form> and <figure> are left out
# because trafilatura keeps some of them, <time> and <label> because their text (dates,
# field labels) counts in its page-length measure.
_CLEANED_TAGS = (
    "applet", "area", "audio", "blink", "button", "canvas", "datalist", "dialog", "embed",
    "fencedframe", "fieldset", "frame", "frameset", "iframe", "legend", "map", "marquee", "menu",
    "menuitem", "noindex", "noscript", "object", "optgroup", "option", "output", "param",
    "picture", "progress", "rp", "rt", "rtc", "select", "source", "textarea", "track", "use", "video",
)
_HTML_SPACES = " \t\r\n\f"
_HTML_SPACE_RE = re.compile(f"[{_HTML_SPACES}]+")
# Whitespace that _HTML_SPACE_RE would change: any character but a space, or two spaces.
_COLLAPSIBLE_SPACE_RE = re.compile(r"[\t\r\n\f]| {2}")
_LINE_PREFIX_RE = re.compile(r"^[ \t]*(?:>[ \t]?)*")


@dataclass
class HtmlExtraction:
    """Result of ``extract_html``.

    ``text`` is Markdown, empty when no main content was found. ``formula_count``
    and ``code_block_count`` count what is in ``text``. The ``*_dropped`` counts
    are formulas and code blocks found on the page but left out with the boilerplate.
    """

    text: str
    title: str | None
    charset: str
    formula_count: int
    code_block_count: int
    formulas_dropped: int = 0
    code_blocks_dropped: int = 0


@dataclass
class _Protected:
    """Formulas and code blocks taken out of the tree, indexed by their token number."""

    math_prefix: str
    code_prefix: str
    formulas: list[Formula] = field(default_factory=list)
    code_blocks: list[CodeBlock] = field(default_factory=list)

    def add_formula(self, formula: Formula) -> str:
        self.formulas.append(Formula(clean_tex(formula.tex), formula.display))
        return f"{self.math_prefix}{len(self.formulas) - 1:04d}X"

    def add_code(self, block: CodeBlock) -> str:
        self.code_blocks.append(block)
        return f"{self.code_prefix}{len(self.code_blocks) - 1:04d}X"


def extract_html(
    html: str | bytes, *, url: str | None = None, content_type: str | None = None
) -> HtmlExtraction:
    """Extract the main content of an HTML page as Markdown with TeX math and fenced code.

    Raises ExtractionError when lxml cannot build a tree from the input at all
    (empty or whitespace-only documents included).
    """
    if isinstance(html, (bytes, bytearray, memoryview)):
        data = bytes(html)
        text, charset = decode_html(data, content_type=content_type)
        # Valid UTF-8 without a byte order mark goes to lxml as it came, which saves
        # encoding the decoded text again. A U+FFFD in the text may be a replacement.
        if charset != "utf-8" or "\ufffd" in text or data.startswith(codecs.BOM_UTF8):
            data = None
    elif isinstance(html, str):
        data, text, charset = None, html, "unicode"
    else:
        raise TypeError(f"extract_html expects str or bytes, got {type(html).__name__}")

    root = _parse_utf8(text.encode("utf-8", errors="replace") if data is None else data, url=url)
    title = _title(root)

    # One search for the shared start of both prefixes spares a second pass over the page.
    if "MIMO" in text:
        protected = _Protected(_unused_prefix(text, "MIMOMATH"), _unused_prefix(text, "MIMOCODE"))
    else:
        protected = _Protected("MIMOMATH", "MIMOCODE")
    posts, boilerplate = _protect(root, protected)
    root = _keep_only_posts(root, posts, url=url)
    _drop_cleaned_subtrees(boilerplate)
    _mark_paragraph_container(root)
    _drop_cleaned_elements(root)

    markdown = trafilatura.extract(root, url=url, **TRAFILATURA_OPTIONS) or ""
    return _restore(markdown, protected, title=title, charset=charset, url=url)


def html_to_markdown(html: str | bytes, url: str | None = None) -> str:
    """Return the main content of an HTML page as Markdown, the ``text`` of ``extract_html``.

    Raises ExtractionError for input without any markup, like ``extract_html``.
    """
    return extract_html(html, url=url).text


# lxml.html's default lookup picks the element class (FormElement, InputElement, …) in
# a Python function that runs for every element Python touches. Under cProfile that
# function took about a quarter of trafilatura 2.3.1's time on the scrapinghub_aeb pages.
# The lookup below runs in C and makes every element a plain HtmlElement, which is all
# that trafilatura and this module use.
_HTML_CLASS_LOOKUP = lxml.etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)


def parse_html(text: str, *, url: str | None = None) -> HtmlElement:
    """Parse HTML text into an lxml tree, raising ExtractionError when nothing can be parsed."""
    # Parsing UTF-8 bytes with a fixed encoding sidesteps lxml's refusal of str input
    # that carries an XML encoding declaration, and any <meta charset> on the page.
    return _parse_utf8(text.encode("utf-8", errors="replace"), url=url)


def _parse_utf8(data: bytes, *, url: str | None) -> HtmlElement:
    if not data.strip():
        raise ExtractionError(f"empty HTML document (url={url!r}); expected markup, found only whitespace")
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, collect_ids=False)
    parser.set_element_class_lookup(_HTML_CLASS_LOOKUP)
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except (lxml.etree.ParserError, ValueError) as error:
        raise ExtractionError(f"failed to parse HTML (url={url!r}): {error}") from error
    if root is None:
        raise ExtractionError(f"failed to parse HTML (url={url!r}): lxml returned no tree")
    return root


def _unused_prefix(text: str, prefix: str) -> str:
    # A page that contains our token prefix (such as a page about this tool) gets a
    # longer one, so its own text is never mistaken for a token.
    candidate = prefix
    while candidate in text:
        candidate += "Q"
    return candidate


def _title(root: HtmlElement) -> str | None:
    """Return the first non-empty of: the ``<head>`` title, ``og:title``, any ``<title>``."""
    head = root.find("head")
    head_title = head.find("title") if head is not None else None
    title = _normalized_title(head_title.text if head_title is not None else None)
    if title:
        return title

    # Most pages have a title in <head>, so the two scans of the whole tree below seldom run.
    og_title = next((meta.get("content") for meta in root.iter("meta") if meta.get("property") == "og:title"), None)
    title = _normalized_title(og_title)
    if title:
        return title
    any_title = next(root.iter("title"), None)
    return _normalized_title(any_title.text if any_title is not None else None)


def _normalized_title(text: str | None) -> str | None:
    title = " ".join(text.split()) if text else ""
    return title or None


# ---------------------------------------------------------------------------
# Pre-pass


def _protect(root: HtmlElement, protected: _Protected) -> tuple[list[HtmlElement], list[HtmlElement]]:
    """Replace formulas and code blocks by tokens in one walk over the tree.

    Returns the forum and Q&A post bodies met on the way, in document order, so that
    ``_keep_only_posts`` needs no second walk, and the ``<aside>`` and ``<footer>``
    elements left for the walk, which ``_drop_cleaned_subtrees`` deletes after it.
    """
    scripts = _drop_unread_elements(root)
    delimiters = _read_math_scripts(root, scripts, protected)
    boilerplate = _drop_plain_boilerplate(root)
    return _walk(root, protected, scripts.has_tex_scripts, delimiters), boilerplate


def _walk(
    root: HtmlElement, protected: _Protected, has_tex_scripts: bool, delimiters: TextDelimiters
) -> list[HtmlElement]:
    """Replace formulas and code blocks by tokens. Returns the post bodies met, in document order."""
    posts = []
    elements = list(root.iter())
    skip = 0
    for element in elements:
        if skip:
            skip -= 1
            continue
        tag = element.tag
        if not isinstance(tag, str):  # a comment or processing instruction
            element.tail = _protect_text(element.tail, delimiters, protected)
            continue

        # The HTML parser lower-cases tags; only XHTML islands such as MathML carry a namespace.
        name = local_name(element) if "}" in tag else tag
        candidate = name in _CANDIDATE_TAGS
        class_attribute = element.get("class")
        if class_attribute:
            if _POST_BODY_CLASS_RE.search(class_attribute):
                posts.append(element)
            candidate = candidate or _is_candidate_class(name, class_attribute)
        if not candidate:
            candidate = element.get("data-formula") is not None
        if candidate and _protect_element(element, name, has_tex_scripts, delimiters, protected):
            # Descendants directly follow their ancestor in document order.
            skip = sum(1 for _ in element.iter()) - 1
            continue

        if name in _OPAQUE_TAGS:
            # trafilatura 2.3.1 writes a <code> whose text has a line break as a fenced block.
            if name == "code" and is_inline_code_with_line_break(element):
                collapse_code_whitespace(element)
            skip = sum(1 for _ in element.iter()) - 1
        else:
            text = element.text
            if text:
                new_text = _protect_text(text, delimiters, protected)
                if new_text is not text:
                    element.text = new_text
        tail = element.tail
        if tail:
            new_tail = _protect_text(tail, delimiters, protected)
            if new_tail is not tail:
                element.tail = new_tail
    return posts


def _is_candidate_class(name: str, class_attribute: str) -> bool:
    """Return True when the class of an element outside ``_CANDIDATE_TAGS`` may make it a formula or code block."""
    if _MAYBE_FORMULA_CLASS_RE.search(class_attribute):
        return True
    return name == "div" and "code" in class_attribute


@dataclass
class _PageScripts:
    """Math settings of a page, read from its scripts while they are deleted."""

    has_tex_scripts: bool = False  # MathJax 2 ``math/tex`` input scripts are present
    # Script texts that configure TeX delimiters (MathJax ``inlineMath``, KaTeX auto-render
    # ``delimiters``) or render a formula whose TeX exists only in the script (``katex.render``).
    math_sources: list[str] = field(default_factory=list)


def _drop_unread_elements(root: HtmlElement) -> _PageScripts:
    """Delete scripts, styles, inline SVG, ``<meta>``, ``<link>`` and ``<input>``, and flatten ``<nav>``.

    trafilatura 2.3.1 deletes all of them in its tree cleaning, so its main extraction
    never reads them, but it copies the tree four times and runs its XPath pruning
    over them first. Deleting them here spares those passes and the walk their
    nodes. The elements go with their subtree but not their tail. MathJax ``math/*``
    scripts stay because the walk reads them as formulas, and JSON-LD scripts stay
    because trafilatura reads them (forum detection, ``articleBody``). A ``<nav>``
    counts in the page-length measure that decides trafilatura's recall retry, so it
    keeps its text as one string and loses only its elements. That measure leaves out
    scripts, styles and SVG, so they leave the ``<nav>`` before it is flattened. Of the
    void elements that trafilatura deletes, only ``<input>`` is deleted here, because
    libxml2 2.14 nests the content that follows ``<source>``, ``<track>`` and
    ``<embed>`` inside them.

    Returns what the scripts tell about the page's math, read before they go, so that
    no second pass over the tree or the page text is needed for it.
    """
    # 1. One pass finds the elements that are read before they go.
    found: dict[str, list[HtmlElement]] = {"script": [], "nav": [], "svg": []}
    for element in root.iter("script", "nav", "svg"):
        found[element.tag].append(element)

    # 2. MathJax SVG formulas become MathML. Then one pass in C deletes the elements
    #    that go whatever their attributes.
    for svg in found["svg"]:
        if is_mathjax_svg(svg):
            _replace_mathjax_svg(svg)
    lxml.etree.strip_elements(root, "style", "svg", "meta", "link", "input", with_tail=False)

    # 3. Scripts, except MathJax input and JSON-LD, which are read first.
    scripts = _PageScripts()
    for script in found["script"]:
        if not _is_kept_script(script, scripts):
            script.drop_tree()

    # 4. Navigation keeps its text only, once the scripts, styles and SVG in it are gone.
    for nav in found["nav"]:
        if len(nav) and nav.getparent() is not None:
            text = " ".join(nav.itertext())
            for child in list(nav):
                nav.remove(child)
            nav.text = text
    return scripts


def _is_kept_script(script: HtmlElement, scripts: _PageScripts) -> bool:
    """Read a script's math settings into ``scripts``. Returns True for MathJax input and JSON-LD, which stay."""
    script_type = script.get("type") or ""
    lowered_type = script_type.lower()
    if "math/tex" in lowered_type:
        scripts.has_tex_scripts = True
    source = script.text
    if source and ("inlineMath" in source or "delimiters" in source or "katex.render" in source):
        scripts.math_sources.append(source)
    # trafilatura matches the JSON-LD type exactly.
    return lowered_type.startswith("math/") or script_type == "application/ld+json"


def _replace_mathjax_svg(svg: HtmlElement) -> None:
    """Put the MathML rebuilt from a MathJax 3 SVG formula in the place of the SVG.

    The SVG of an ``<mjx-container>`` that also contains MathJax's MathML copy is left
    for deletion, since the walk reads that copy. Outside a container (pages that
    embed only the SVG, such as WeChat articles), an SVG alone in its block is a
    display formula.
    """
    parent = svg.getparent()
    if parent is None:
        return
    container = next((ancestor for ancestor in svg.iterancestors("mjx-container")), None)
    if container is not None and next(container.iter("math"), None) is not None:
        return
    math = mathml_from_mathjax_svg(svg)
    if math is None:
        return
    if container is None and _is_alone_in_block(svg):
        math.set("display", "block")
    math.tail = svg.tail
    parent.replace(svg, math)


# Inline elements that editors wrap around a formula's SVG.
_FORMULA_WRAPPER_TAGS = {"span", "a", "b", "strong", "em", "i", "font", "label"}


def _is_alone_in_block(element: HtmlElement) -> bool:
    """Return True when an element, with only empty inline wrappers around it, is all the content of its block."""
    node = element
    parent = node.getparent()
    while parent is not None and parent.tag in _FORMULA_WRAPPER_TAGS:
        if len(parent) != 1 or (parent.text or "").strip() or (node.tail or "").strip():
            return False
        node, parent = parent, parent.getparent()
    if parent is None or parent.tag not in _BLOCK_TAGS:
        return False
    return len(parent) == 1 and not (parent.text or "").strip() and not (node.tail or "").strip()


def _read_math_scripts(root: HtmlElement, scripts: _PageScripts, protected: _Protected) -> TextDelimiters:
    """Return the TeX delimiters that the page configures for MathJax or KaTeX.

    ``katex.render`` calls put their formula into their target element.
    """
    config_sources = []
    for source in scripts.math_sources:
        if "inlineMath" in source or "delimiters" in source:
            config_sources.append(source)
        if "katex.render" in source:
            _protect_katex_render_targets(root, source, protected)
    return delimiters_from_config(config_sources)


def _drop_plain_boilerplate(root: HtmlElement) -> list[HtmlElement]:
    """Delete each ``<aside>`` and ``<footer>`` that cannot hold a formula or code block, before the walk.

    trafilatura deletes both anyway (see ``_drop_cleaned_subtrees``). The others wait
    for the walk, so that their formulas and code are counted as dropped, and are returned.
    """
    left_for_walk = []
    for element in list(root.iter("aside", "footer")):
        if element.getparent() is None:
            continue  # inside an element deleted before it
        if _may_hold_formula_or_code(element):
            left_for_walk.append(element)
        else:
            element.drop_tree()
    return left_for_walk


def _may_hold_formula_or_code(element: HtmlElement) -> bool:
    """Return True unless the subtree surely has no formula or code block for ``_protect_element``.

    The tests are those of the walk, so an element that the walk would inspect keeps
    its subtree.
    """
    text = element.text_content()
    if "\\" in text or "$" in text or "[" in text:
        return True
    if next(element.iter(*(_CANDIDATE_TAGS - {"img"})), None) is not None:
        return True
    if any(formula_from_image(image) is not None for image in element.iter("img")):
        return True
    # A Python loop over the classes costs a tenth of one XPath query with a
    # contains() test per formula class (measured on the scrapinghub_aeb pages of
    # benchmarks/extraction.py).
    for descendant in element.iter():
        class_attribute = descendant.get("class")
        if class_attribute and _is_candidate_class(descendant.tag, class_attribute):
            return True
        if descendant.get("data-formula") is not None:
            return True
    return False


def _drop_cleaned_subtrees(boilerplate: list[HtmlElement]) -> None:
    """Delete the ``<aside>`` and ``<footer>`` elements that ``_drop_plain_boilerplate`` kept, before trafilatura runs.

    trafilatura 2.3.1 deletes both in its tree cleaning and in its baseline and
    page-length measure, so deleting them changes no output and spares its tree
    copies and XPath passes their nodes. Runs after the walk, so that formulas and
    code in these elements are counted as dropped with the boilerplate. An element
    that the walk replaced has no parent any more and is skipped.
    """
    for element in boilerplate:
        if element.getparent() is not None:
            element.drop_tree()


def _drop_cleaned_elements(root: HtmlElement) -> None:
    """Strip or delete, after the walk, the elements that trafilatura strips or deletes unread.

    No step of trafilatura 2.3.1 that runs before its tree cleaning reads them: its
    raw-tree pruning tests div, section, aside and list elements, and its page-length
    measure and baseline read text. Dealing with them here spares its four tree copies
    and XPath passes their nodes. Deleted text leaves that measure and the baseline,
    which on the 277 HTML pages of the test corpus removed only interface labels
    (select options, "Watch" and "Star" buttons, a "requires JavaScript" notice) from
    two outputs.
    Runs after the walk, so that formulas and code in deleted elements count as dropped.
    """
    lxml.etree.strip_tags(root, *_STRIPPED_TAGS)
    lxml.etree.strip_elements(root, *_CLEANED_TAGS, with_tail=False)


def _protect_katex_render_targets(root: HtmlElement, script: str, protected: _Protected) -> None:
    """Put the formula of each ``katex.render("TeX", element)`` call of a script into its target element.

    The target is empty or contains a placeholder until the script runs, and the TeX
    exists only in the script, which trafilatura drops.
    """
    for target_id, formula in formulas_from_katex_render(script):
        targets = root.xpath("//*[@id=$id]", id=target_id)
        if not targets or is_macro_definition(formula.tex):
            continue
        target = targets[0]
        for child in list(target):
            target.remove(child)
        target.text = protected.add_formula(formula)


def _protect_element(
    element: HtmlElement, name: str, has_tex_scripts: bool, delimiters: TextDelimiters, protected: _Protected
) -> bool:
    """Replace one formula or code element by its token; return True when it was replaced."""
    block = _code_block(element, name)
    if block is not None:
        # trafilatura deletes <figure> with everything in it, and highlighters such as
        # Expressive Code wrap each code block in one.
        for figure in element.iterancestors("figure"):
            figure.tag = "div"
        if block.text.strip():
            _replace_with_block_token(element, protected.add_code(block), delimiters, protected)
        else:
            _replace_with_text(element, "", delimiters, protected)
        return True

    pieces = _formula_pieces(element, name, has_tex_scripts)
    if pieces is None:
        return False
    tokens = "".join(_token_or_text(piece, protected) for piece in pieces)
    parent = element.getparent()
    standalone_display = len(pieces) == 1 and isinstance(pieces[0], Formula) and pieces[0].display
    if tokens and standalone_display and parent is not None and local_name(parent) in _BLOCK_CONTAINER_TAGS:
        # Loose text between blocks of a <div> or <body> is lost by trafilatura, so a
        # display formula there gets a paragraph of its own.
        _replace_with_block_token(element, tokens, delimiters, protected)
    else:
        _replace_with_text(element, tokens, delimiters, protected)
    return True


def _code_block(element: HtmlElement, name: str) -> CodeBlock | None:
    """Return the code block an element is (``<pre>``, code-view table, forum code), else None."""
    if name == "pre":
        return code_from_pre(element)
    if name == "code" and is_br_code_block(element):
        return code_from_br_lines(element)
    if name == "table" and is_line_table(element):
        return code_from_line_table(element)
    if name == "div" and is_list_code_block(element):
        return code_from_list_block(element)
    return None


def _formula_pieces(element: HtmlElement, name: str, has_tex_scripts: bool) -> list[str | Formula] | None:
    """Return the formulas (and text) an element is, [] for a rendered copy, None for other elements."""
    if element.get("data-formula"):
        formula = formula_from_data_attribute(element)
    elif name == "script":
        formula = formula_from_script(element)
    elif name == "math":
        formula = formula_from_mathml(element)
    elif name == "img":
        formula = formula_from_image(element)
    elif name == "mjx-container":
        # MathJax 3 keeps a MathML copy for screen readers, or _drop_unread_elements
        # rebuilt one from the SVG output. Without either, the glyphs are CSS content
        # (CommonHTML output), so the container has no usable text.
        math = next((child for child in element.iter() if local_name(child) == "math"), None)
        if math is None:
            return []
        formula = formula_from_mathml(math, display=element.get("display") == "true")
    else:
        class_attribute = element.get("class")
        if not class_attribute:
            return None
        element_classes = set(class_attribute.split())
        if "mwe-math-element" in element_classes:
            formula = formula_from_wikipedia(element)
        elif element_classes & _RAW_TEX_CLASSES:
            formula = formula_from_raw_tex(element)
        elif element_classes & {"katex", "katex-display"}:
            formula = formula_from_katex(element)
        elif element_classes & _MATHJAX_OUTPUT_CLASSES and has_tex_scripts:
            return []
        elif element_classes & _TEX_SOURCE_CLASSES:
            return formulas_from_math_class(element)
        else:
            return None
    return None if formula is None else [formula]


def _token_or_text(piece: str | Formula, protected: _Protected) -> str:
    if not isinstance(piece, Formula):
        return _HTML_SPACE_RE.sub(" ", piece)
    if not piece.tex.strip() or is_macro_definition(piece.tex):
        # Macro definitions render to nothing; they are not content.
        return ""
    return protected.add_formula(piece)


def _protect_text(text: str | None, delimiters: TextDelimiters, protected: _Protected) -> str | None:
    """Replace delimited TeX in one text node by tokens and collapse its whitespace.

    Outside <pre> a browser shows any run of spaces and newlines as one space.
    Some trafilatura paths (recall mode, for one) copy text verbatim, and source
    indentation at a line start would read as a Markdown code block.
    """
    if not text:
        return text
    if not text.strip(_HTML_SPACES):
        return " "  # most text nodes are the indentation between two tags
    if "\\" in text or "$" in text or "[" in text or "#" in text:
        pieces = split_tex_spans(text, delimiters)
        if len(pieces) > 1:
            return "".join(_token_or_text(piece, protected) for piece in pieces)
    # The walk writes a node back only when it receives a different object.
    if _COLLAPSIBLE_SPACE_RE.search(text) is None:
        return text
    return _HTML_SPACE_RE.sub(" ", text)


def _replace_with_text(element: HtmlElement, text: str, delimiters: TextDelimiters, protected: _Protected) -> None:
    # Keep the element's tail, which is text of the parent that follows it.
    text += _protect_text(element.tail, delimiters, protected) or ""
    parent = element.getparent()
    if parent is None:
        return
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    else:
        parent.text = (parent.text or "") + text
    parent.remove(element)


def _replace_with_block_token(
    element: HtmlElement, token: str, delimiters: TextDelimiters, protected: _Protected
) -> None:
    # A <p> of its own makes trafilatura keep the block on separate lines.
    paragraph = lxml.html.Element("p")
    paragraph.text = token
    paragraph.tail = _protect_text(element.tail, delimiters, protected)
    parent = element.getparent()
    if parent is not None:
        parent.replace(element, paragraph)


# ---------------------------------------------------------------------------
# Main content container


def _mark_paragraph_container(root: HtmlElement) -> None:
    """Make the innermost element holding nearly all paragraph text an ``<article>`` on pages trafilatura cannot frame.

    trafilatura 2.3.1 looks for the main content in an ``<article>``, a ``<main>`` or
    the containers matched by its ``BODY_XPATH`` (known classes and ids). When none
    matches, as on pages exported from editors (WeChat, Zhihu, Juejin) whose content is
    one styled ``<section>`` or ``<div>``, it falls back to collecting loose paragraphs
    and loses every heading and list. On such a page whose text is mostly in ``<p>``
    elements, the innermost ``<div>`` or ``<section>`` holding ``CONTAINER_TEXT_SHARE``
    of the paragraph text becomes an ``<article>`` when most of those paragraphs are its
    own children. Pages where only ``<body>`` contains that much are left alone.
    """
    # 1. Cheap checks first, because most pages stop here.
    if next(root.iter("article", "main"), None) is not None:
        return
    paragraphs = [(paragraph, len(paragraph.text_content())) for paragraph in root.iter("p")]
    paragraph_text = sum(length for _, length in paragraphs)
    if len(paragraphs) < MIN_CONTAINER_PARAGRAPHS or paragraph_text < PARAGRAPH_TEXT_SHARE * len(root.text_content()):
        return
    # NOTE: trafilatura evaluates BODY_XPATH on its cleaned tree, this on ours, so the
    # two can disagree when the only match sits in an element its cleaning deletes.
    if any(next(iter(expression(root)), None) is not None for expression in trafilatura.xpaths.BODY_XPATH):
        return

    # 2. Descend from the root while one child contains nearly all paragraph text.
    text_per_element: collections.Counter = collections.Counter()
    for paragraph, length in paragraphs:
        for ancestor in paragraph.iterancestors():
            text_per_element[ancestor] += length
    container = root
    while True:
        child = next(
            (child for child in container if text_per_element[child] >= CONTAINER_TEXT_SHARE * paragraph_text), None
        )
        if child is None:
            break
        container = child
    # When nested blocks hold the paragraphs (documentation sections, for one), the
    # <article> made trafilatura keep only the last block, so the paragraphs must be
    # children of the container itself.
    direct_text = sum(len(child.text_content()) for child in container if child.tag == "p")
    if container.tag in ("div", "section") and direct_text >= DIRECT_PARAGRAPH_SHARE * text_per_element[container]:
        container.tag = "article"


# ---------------------------------------------------------------------------
# Forum and Q&A threads


def _keep_only_posts(root: HtmlElement, posts: list[HtmlElement], *, url: str | None) -> HtmlElement:
    """Return a tree with only the thread's title and post bodies when the page is a thread.

    trafilatura keeps the densest block of a page, which on a Q&A page is often the
    question alone, and it drops short answers and comments as boilerplate. A page
    with at least ``MIN_THREAD_POSTS`` post bodies, found by the class names of
    common forum and Q&A software, is rebuilt as one article holding every post in
    page order, so that trafilatura sees nothing else. Other pages are returned as they are.
    """
    # Posts inside a replaced formula or code block left the tree with it.
    posts = [post for post in posts if _is_in_tree(post, root)]
    # A quoted post inside another post is part of that post.
    posts = [post for post in posts if not any(_is_post_body(ancestor) for ancestor in post.iterancestors())]
    if len(posts) < MIN_THREAD_POSTS:
        return root

    article = lxml.html.Element("article")
    heading = next(iter(root.iter("h1")), None)
    if heading is not None and heading.text_content().strip():
        article.append(_detached_copy(heading))
    for post in posts:
        post.getparent().remove(post)
        # trafilatura drops elements whose class or id says "comment", and loose text
        # in a <div>, so a post becomes a plain <div>, or a <p> when it holds only inline markup.
        post.attrib.clear()
        post.tag = "div" if any(local_name(child) in _BLOCK_TAGS for child in post) else "p"
        post.tail = None
        # Links are not part of the output (include_links is off), but trafilatura's
        # link-density test drops a short reply that starts with a mention link, and
        # short is easily reached in Chinese, where one character carries a word.
        lxml.etree.strip_tags(post, "a")
        article.append(post)

    head = root.find("head")
    page = lxml.html.Element("html")
    if head is not None:
        page.append(head)
    body = lxml.html.Element("body")
    body.append(article)
    page.append(body)
    logger.debug("%s: thread page, kept %d post bodies", url, len(posts))
    return page


def _is_post_body(element: HtmlElement) -> bool:
    if not isinstance(element.tag, str):
        return False
    class_attribute = element.get("class")
    return bool(class_attribute) and _is_post_class(class_attribute)


def _is_post_class(class_attribute: str) -> bool:
    return _POST_BODY_CLASS_RE.search(class_attribute) is not None


def _is_in_tree(element: HtmlElement, root: HtmlElement) -> bool:
    top = element
    for top in element.iterancestors():
        pass
    return top is root


def _detached_copy(element: HtmlElement) -> HtmlElement:
    copy = lxml.html.fromstring(lxml.html.tostring(element, encoding="unicode", with_tail=False))
    return copy


# ---------------------------------------------------------------------------
# Restore


def _restore(
    markdown: str, protected: _Protected, *, title: str | None, charset: str, url: str | None
) -> HtmlExtraction:
    """Put formulas and code blocks back in trafilatura's Markdown and count them."""
    math_re = re.compile(re.escape(protected.math_prefix) + r"(\d+)X")
    code_re = re.compile(re.escape(protected.code_prefix) + r"(\d+)X")

    formulas_seen = {int(index) for index in math_re.findall(markdown)}
    # "$a$$b$" would read as a "$$" delimiter, so adjacent formulas get a space between them.
    adjacent_re = re.compile(rf"({math_re.pattern})(?={re.escape(protected.math_prefix)}\d)")
    markdown = adjacent_re.sub(r"\1 ", markdown)
    markdown = math_re.sub(lambda match: to_markdown(protected.formulas[int(match.group(1))]), markdown)

    code_seen = {int(index) for index in code_re.findall(markdown)}
    lines = []
    for line in markdown.split("\n"):
        lines.extend(_restore_code_line(line, code_re, protected) if code_re.search(line) else [line])
    text = "\n".join(lines).strip()

    formulas_dropped = len(protected.formulas) - len(formulas_seen)
    code_dropped = len(protected.code_blocks) - len(code_seen)
    if formulas_dropped or code_dropped:
        logger.debug(
            "%s: %d formulas and %d code blocks left out with the boilerplate", url, formulas_dropped, code_dropped
        )
    return HtmlExtraction(
        text=text,
        title=title,
        charset=charset,
        formula_count=len(formulas_seen),
        code_block_count=len(code_seen),
        formulas_dropped=formulas_dropped,
        code_blocks_dropped=code_dropped,
    )


def _restore_code_line(line: str, code_re: re.Pattern[str], protected: _Protected) -> list[str]:
    """Expand the code tokens of one Markdown line into fenced blocks on their own lines.

    Text around a token goes on lines of its own. The line's indentation or
    blockquote markers are repeated on every fence line, so the block stays inside
    its list item or quote.
    """
    prefix = _LINE_PREFIX_RE.match(line).group(0)
    # NOTE: a token inside a Markdown table row also becomes a fence, which splits the table.
    output = []
    parts = code_re.split(line[len(prefix) :])
    for position, part in enumerate(parts):
        if position % 2 == 0:
            if part.strip():
                output.append(prefix + part.strip())
            continue
        fence = to_fence(protected.code_blocks[int(part)])
        output.extend(prefix + fence_line if fence_line else prefix.rstrip() for fence_line in fence.split("\n"))
    return output
