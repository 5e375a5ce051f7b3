"""Find TeX formulas in HTML: MathJax scripts, MathML, MathJax SVG, KaTeX, formula images, TeX in text.

Each finder returns a ``Formula`` (TeX source and display flag) or None; html.py
decides what to do with the element. Nothing here touches trafilatura.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from dataclasses import dataclass

import lxml.html
from lxml.html import HtmlElement


@dataclass(frozen=True)
class Formula:
    """A formula as TeX source, without delimiters."""

    tex: str
    display: bool


def to_markdown(formula: Formula) -> str:
    """Render a formula with the Markdown delimiters ``$…$`` or ``$$…$$``."""
    return f"$${formula.tex}$$" if formula.display else f"${formula.tex}$"


def clean_tex(tex: str) -> str:
    """Strip each line of a formula and drop blank lines.

    Line breaks are kept because a TeX ``%`` comment runs to the end of its line.
    """
    return "\n".join(line.strip() for line in tex.strip().splitlines() if line.strip())


# ---------------------------------------------------------------------------
# TeX delimited in text nodes


@dataclass(frozen=True)
class TextDelimiters:
    """The TeX delimiters recognised in text nodes of one page.

    ``\\(…\\)``, ``\\[…\\]``, ``$$…$$``, forum ``[tex]``/``[itex]``/``[latex]`` tags and
    ``\\begin{equation}``-style environments are always read. Single ``$`` and ``##``
    are read only when the page configures its renderer for them, because without
    that they are prices, shell prompts and markup far more often than math.
    """

    single_dollar: bool = False
    double_hash: bool = False


_DISPLAY_ENVIRONMENTS = "equation|align|alignat|gather|multline|eqnarray|displaymath|flalign"

_ALWAYS_PATTERNS = (
    (r"\$\$(?P<d1>.+?)\$\$", True),
    (r"\\\[(?P<d2>.+?)\\\]", True),
    (r"\\\((?P<i1>.+?)\\\)", False),
    (r"\[tex\](?P<d3>.+?)\[/tex\]", True),
    (r"\[itex\](?P<i2>.+?)\[/itex\]", False),
    (r"\[latex\](?P<i3>.+?)\[/latex\]", False),
    (rf"(?P<d4>\\begin\{{(?P<env>(?:{_DISPLAY_ENVIRONMENTS})\*?)\}}.+?\\end\{{(?P=env)\}})", True),
)
_HASH_PATTERN = (r"##(?P<i4>\S(?:.*?\S)?)##", False)
# Pandoc's rule for single dollars: no space inside either delimiter, and the
# closing one not followed by a digit, so "$5 and $10" stays text.
_DOLLAR_PATTERN = (r"(?<!\\)\$(?P<i5>[^\s$](?:[^$]*?[^\s\\$])?)\$(?!\d)", False)

_PATTERN_CACHE: dict[TextDelimiters, tuple[re.Pattern[str], dict[str, bool]]] = {}

# Config keys of MathJax 2/3 (tex2jax.inlineMath, tex.inlineMath) and KaTeX auto-render
# (delimiters: [{left: "$", ...}]), matched loosely on the page's script text.
_MATHJAX_INLINE_RE = re.compile(r"inlineMath[\"']?\s*:\s*\[(.{0,400}?)\]\s*\]", re.DOTALL)
_DOLLAR_PAIR_RE = re.compile(r"[\"']\$[\"']\s*,\s*[\"']\$[\"']")
_HASH_PAIR_RE = re.compile(r"[\"']##[\"']\s*,\s*[\"']##[\"']")
_KATEX_DOLLAR_RE = re.compile(r"left[\"']?\s*:\s*[\"']\$[\"']\s*,\s*right[\"']?\s*:\s*[\"']\$[\"']")


def delimiters_from_config(script_texts: list[str]) -> TextDelimiters:
    """Read which optional delimiters the page's MathJax or KaTeX config enables."""
    single_dollar = False
    double_hash = False
    for script in script_texts:
        for match in _MATHJAX_INLINE_RE.finditer(script):
            single_dollar |= bool(_DOLLAR_PAIR_RE.search(match.group(1)))
            double_hash |= bool(_HASH_PAIR_RE.search(match.group(1)))
        single_dollar |= bool(_KATEX_DOLLAR_RE.search(script))
    return TextDelimiters(single_dollar=single_dollar, double_hash=double_hash)


def _compiled(delimiters: TextDelimiters) -> tuple[re.Pattern[str], dict[str, bool]]:
    cached = _PATTERN_CACHE.get(delimiters)
    if cached is not None:
        return cached
    patterns = list(_ALWAYS_PATTERNS)
    if delimiters.double_hash:
        patterns.append(_HASH_PATTERN)
    if delimiters.single_dollar:
        patterns.append(_DOLLAR_PATTERN)
    group_display = {}
    for pattern, display in patterns:
        group = re.search(r"\?P<(\w+)>", pattern).group(1)
        group_display[group] = display
    compiled = re.compile("|".join(p for p, _ in patterns), re.DOTALL)
    _PATTERN_CACHE[delimiters] = (compiled, group_display)
    return compiled, group_display


def split_tex_spans(text: str, delimiters: TextDelimiters) -> list[str | Formula]:
    """Split text into plain strings and the formulas delimited in it, in order."""
    pattern, group_display = _compiled(delimiters)
    pieces: list[str | Formula] = []
    position = 0
    for match in pattern.finditer(text):
        group = next(name for name in group_display if match.group(name) is not None)
        tex = match.group(group).strip()
        if not tex:
            continue
        pieces.append(text[position : match.start()])
        pieces.append(Formula(tex, group_display[group]))
        position = match.end()
    if not pieces:
        return [text]
    pieces.append(text[position:])
    return pieces


_MACRO_ONLY_RE = re.compile(r"^(?:\s*\\(?:re)?newcommand\b.*|\s*\\def\\.*|\s*\\DeclareMathOperator.*)$", re.DOTALL)


def is_macro_definition(tex: str) -> bool:
    """Return True for a formula that only defines macros, so it renders to nothing."""
    return bool(_MACRO_ONLY_RE.match(tex))


# ---------------------------------------------------------------------------
# Elements that carry a formula


def local_name(element: HtmlElement) -> str:
    """Return the tag without namespace, lower-cased ('' for comments)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def classes(element: HtmlElement) -> set[str]:
    return set((element.get("class") or "").split())


def formula_from_script(script: HtmlElement) -> Formula | None:
    """Read ``<script type="math/tex">`` (MathJax 2 input); ``mode=display`` is display math."""
    script_type = (script.get("type") or "").lower()
    if not script_type.startswith("math/tex"):
        return None
    return Formula((script.text or "").strip(), "mode=display" in script_type.replace(" ", ""))


def formula_from_mathml(math: HtmlElement, *, display: bool | None = None) -> Formula:
    """Read a MathML ``<math>``: its TeX annotation, else alttext, else a converted TeX."""
    if display is None:
        display = (math.get("display") or "").lower() == "block" or (math.get("mode") or "") == "display"
    for element in math.iter():
        if local_name(element) == "annotation" and "tex" in (element.get("encoding") or "").lower():
            return Formula((element.text or "").strip(), display)
    alttext = (math.get("alttext") or "").strip()
    if alttext:
        return Formula(alttext, display)
    return Formula(mathml_to_tex(math), display)


def formula_from_katex(element: HtmlElement) -> Formula | None:
    """Read a KaTeX ``.katex`` / ``.katex-display`` span through its hidden MathML."""
    display = "katex-display" in classes(element)
    for child in element.iter():
        if local_name(child) == "math":
            return formula_from_mathml(child, display=display)
    return None


# Services that render the TeX in their URL's query as an image: CodeCogs, WordPress
# latex.php, MediaWiki's math renderer, Google Charts, mimeTeX/mathTeX and Zhihu.
_FORMULA_IMAGE_HOSTS = (
    "codecogs.com", "latex.php", "/math/render", "chart.apis.google.com/chart?cht=tx", "mathtex.cgi",
    "mimetex.cgi", "zhihu.com/equation",
)
# Query parameters that carry the TeX (latex.php?latex=, equation?tex=, chart?chl=).
_TEX_QUERY_KEYS = ("latex", "tex", "chl")
# An alt text in brackets ("[公式]", "[formula]") is a placeholder, not TeX.
_PLACEHOLDER_ALT_RE = re.compile(r"^\[[^\]]*\]$")


def formula_from_image(img: HtmlElement) -> Formula | None:
    """Read a formula image: its ``data-formula`` or ``alt`` TeX, else the TeX in the renderer's URL.

    Only images from a known LaTeX rendering service or with a ``latex``/``tex``
    class count, so that ordinary ``alt`` texts are never read as TeX.
    """
    src = img.get("src") or img.get("data-src") or ""
    image_classes = classes(img)
    if not (any(host in src for host in _FORMULA_IMAGE_HOSTS) or image_classes & {"latex", "tex", "mathtex"}):
        return None
    tex = (img.get("data-formula") or "").strip()
    alt = (img.get("alt") or "").strip()
    if not tex and alt and not _PLACEHOLDER_ALT_RE.match(alt):
        tex = alt
    if not tex and "?" in src:
        tex = _tex_from_query(src.split("?", 1)[1])
    if not tex:
        return None
    display = tex.startswith("\\displaystyle") or "display" in image_classes or _ends_with_line_break(tex)
    return Formula(tex, display)


def _tex_from_query(query: str) -> str:
    # Named parameters are form-encoded ("+" is a space); a bare query (CodeCogs,
    # mimeTeX) is the TeX itself, percent-encoded, with CodeCogs writing spaces as "&space;".
    parameters = urllib.parse.parse_qs(query, keep_blank_values=False)
    for key in _TEX_QUERY_KEYS:
        if parameters.get(key):
            return parameters[key][0].strip()
    return urllib.parse.unquote(query.replace("&space;", " ").split("&", 1)[0]).strip()


def _ends_with_line_break(tex: str) -> bool:
    # Zhihu's editor marks a display formula by ending its TeX with "\\".
    return tex.rstrip().endswith("\\\\")


def formula_from_data_attribute(element: HtmlElement) -> Formula | None:
    """Read the ``data-formula`` TeX that WeChat (mdnice) and Zhihu put on a formula's element.

    ``data-formula-type="block-equation"`` marks display math, as does a TeX that
    ends with ``\\\\`` on Zhihu images.
    """
    tex = (element.get("data-formula") or "").strip()
    if not tex:
        return None
    kind = (element.get("data-formula-type") or "").lower()
    display = "block" in kind or "display" in kind or _ends_with_line_break(tex)
    return Formula(tex, display)


def formula_from_wikipedia(element: HtmlElement) -> Formula | None:
    """Read a Wikipedia ``mwe-math-element``: its hidden MathML, else the fallback image's alt TeX.

    MediaWiki hides the MathML with ``display:none`` and shows an SVG image, and
    both carry the same formula, so the element yields exactly one formula.
    """
    display = any("display" in name for child in element.iter() for name in classes(child) if name.startswith("mwe-math"))
    for child in element.iter():
        if local_name(child) == "math":
            formula = formula_from_mathml(child, display=display)
            if formula.tex:
                return formula
    for image in element.iter("img"):
        alt = (image.get("alt") or "").strip()
        if alt:
            return Formula(alt, display)
    return None


def formula_from_raw_tex(element: HtmlElement) -> Formula | None:
    """Read an element whose whole text is TeX for a client-side renderer (WordPress ``wp-katex-eq``).

    ``data-display="true"`` marks display math.
    """
    tex = element.text_content().strip()
    if not tex:
        return None
    return Formula(tex, (element.get("data-display") or "").lower() == "true")


# katex.render("TeX", element) draws a formula into an empty element when the page loads.
_KATEX_RENDER_RE = re.compile(
    r"katex\.render\(\s*(?P<quote>[\"'])(?P<tex>(?:\\.|(?!(?P=quote)).)*)(?P=quote)\s*,\s*"
    r"(?:document\.getElementById\(\s*[\"'](?P<id>[\w-]+)[\"']\s*\)|(?P<name>[\w$]+))"
    r"(?P<options>\s*,\s*\{[^}]*\})?",
    re.DOTALL,
)


def formulas_from_katex_render(script_text: str) -> list[tuple[str, Formula]]:
    """Return (element id, formula) for each ``katex.render`` call with a literal TeX string."""
    calls = []
    for match in _KATEX_RENDER_RE.finditer(script_text):
        tex = _unescape_js(match.group("tex")).strip()
        target = match.group("id") or match.group("name")
        display = "displayMode:true" in (match.group("options") or "").replace(" ", "")
        if tex:
            calls.append((target, Formula(tex, display)))
    return calls


def _unescape_js(literal: str) -> str:
    # JavaScript string escapes that occur in TeX: \\ for a backslash and escaped quotes.
    return re.sub(r"\\(.)", lambda match: {"n": "\n", "t": "\t"}.get(match.group(1), match.group(1)), literal)


_TEX_HINT_RE = re.compile(r"\\[A-Za-z]+|[\^_]\{|[\^_]\w")
_BLOCK_TAGS = {"div", "p", "td", "li", "center", "figure", "blockquote"}
# Elements that hold TeX source are parsed with every delimiter enabled.
_ALL_DELIMITERS = TextDelimiters(single_dollar=True, double_hash=False)


def formulas_from_math_class(element: HtmlElement) -> list[str | Formula] | None:
    """Read raw TeX from elements like StackExchange ``.math-container`` or ``class="math"``.

    These hold the TeX source that a renderer replaces in the browser, with or
    without delimiters, sometimes several formulas in one element. Returns text
    and formulas in order, or None for an element with child elements or without
    TeX syntax, because some sites use the class for formulas written in plain
    HTML (``T<sub>min</sub> = 4.7 yr``).
    """
    display = local_name(element) in _BLOCK_TAGS
    if len(element) > 0:
        return _formula_from_inline_html(element, display)
    text = element.text or ""
    if not text.strip():
        return None
    pieces = split_tex_spans(text, _ALL_DELIMITERS)
    if len(pieces) > 1:
        return pieces
    if not _TEX_HINT_RE.search(text) and not _is_plain_formula(text):
        return None
    return [Formula(text.strip(), display)]


# A formula written in plain HTML has a relation or operator sign; longer text under
# a "math" class is prose (a whole exercise, say), not one formula.
_PLAIN_FORMULA_RE = re.compile(r"[=<>+\u2212\u00d7\u00f7\u2192\u2190\u2248\u2245\u2260\u2264\u2265\u221d]")
MAX_HTML_FORMULA_CHARS = 300
_SCRIPT_TAGS = {"sub": "_", "sup": "^"}
_INLINE_FORMULA_TAGS = {"sub", "sup", "i", "em", "b", "strong", "var", "span", "small"}


def _formula_from_inline_html(element: HtmlElement, display: bool) -> list[str | Formula] | None:
    """Read a formula written as HTML text with ``<sub>``/``<sup>``, such as ``T<sub>min</sub> = 4.7 yr``.

    Characters stay as written because the text is not TeX. Returns None when the
    element holds other markup or does not look like a formula.
    """
    if any(local_name(child) not in _INLINE_FORMULA_TAGS for child in element.iter() if child is not element):
        return None
    if not _is_plain_formula(element.text_content()):
        return None
    tex = _inline_html_tex(element)
    return [Formula(_HTML_SPACE_RE.sub(" ", tex).strip(), display)]


def _is_plain_formula(text: str) -> bool:
    return len(text) <= MAX_HTML_FORMULA_CHARS and bool(_PLAIN_FORMULA_RE.search(text))


def _inline_html_tex(element: HtmlElement) -> str:
    parts = [element.text or ""]
    for child in element:
        inner = _inline_html_tex(child)
        script = _SCRIPT_TAGS.get(local_name(child))
        parts.append(f"{script}{{{inner}}}" if script else inner)
        parts.append(child.tail or "")
    return "".join(parts)


_HTML_SPACE_RE = re.compile(r"[ \t\r\n\f]+")


# ---------------------------------------------------------------------------
# MathML to TeX for pages that ship MathML without a TeX annotation

_SYMBOLS = {
    "\u2212": "-", "\u00b1": "\\pm ", "\u2213": "\\mp ", "\u00d7": "\\times ", "\u00b7": "\\cdot ",
    "\u22c5": "\\cdot ", "\u00f7": "\\div ", "\u2264": "\\le ", "\u2265": "\\ge ", "\u2260": "\\ne ",
    "\u2248": "\\approx ", "\u2261": "\\equiv ", "\u221e": "\\infty ", "\u2192": "\\to ",
    "\u21d2": "\\Rightarrow ", "\u2194": "\\leftrightarrow ", "\u2211": "\\sum ", "\u220f": "\\prod ",
    "\u222b": "\\int ", "\u2202": "\\partial ", "\u2207": "\\nabla ", "\u2026": "\\dots ",
    "\u22ef": "\\cdots ", "\u2208": "\\in ", "\u2209": "\\notin ", "\u2282": "\\subset ",
    "\u2286": "\\subseteq ", "\u222a": "\\cup ", "\u2229": "\\cap ", "\u2200": "\\forall ",
    "\u2203": "\\exists ", "\u2205": "\\emptyset ", "\u221a": "\\surd ", "\u2032": "'",
    "\u03d1": "\\vartheta ", "\u03f5": "\\epsilon ", "\u2061": "", "\u2062": "", "\u2063": "", "\u00a0": " ",
    "\u2033": "''", "\u2034": "'''", "\u27e8": "\\langle ", "\u27e9": "\\rangle ", "\u221d": "\\propto ",
    "{": "\\{", "}": "\\}",
}
# U+03B1 to U+03C9 in code point order; U+03C2 is the final sigma.
_GREEK_LOWER = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi o pi rho "
    "varsigma sigma tau upsilon phi chi psi omega"
).split()
for _offset, _name in enumerate(_GREEK_LOWER):
    _SYMBOLS[chr(0x03B1 + _offset)] = "o" if _name == "o" else f"\\{_name} "
# MathJax's TeX input writes \phi as U+03D5 and \varphi as U+03C6, \epsilon as U+03F5 and
# \varepsilon as U+03B5; MathML from other TeX converters uses the same table.
_SYMBOLS["\u03c6"] = "\\varphi "
_SYMBOLS["\u03d5"] = "\\phi "
_SYMBOLS["\u03b5"] = "\\varepsilon "
# Capitals that look like Latin letters have no TeX command and stay as they are.
for _name in ("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"):
    _SYMBOLS[chr(0x03B1 + _GREEK_LOWER.index(_name.lower()) - 0x20)] = f"\\{_name} "
_ACCENTS = {"\u02d9": "\\dot", "\u00a8": "\\ddot", "^": "\\hat", "\u02c6": "\\hat", "\u00af": "\\bar",
            "\u2192": "\\vec", "~": "\\tilde", "\u02dc": "\\tilde"}
_FUNCTIONS = {"sin", "cos", "tan", "log", "ln", "exp", "lim", "max", "min", "det", "sup", "inf"}


def _symbols(text: str) -> str:
    return "".join(_SYMBOLS.get(char, char) for char in text)


def _token(element: HtmlElement, name: str) -> str:
    text = (element.text or "").strip()
    if name == "mtext":
        return f"\\text{{{text}}}" if text else ""
    if name == "mi" and text in _FUNCTIONS:
        return f"\\{text} "
    tex = _symbols(text)
    variant = element.get("mathvariant")
    if variant == "bold":
        return f"\\mathbf{{{tex}}}"
    if variant == "normal" and name == "mi":
        return f"\\mathrm{{{tex}}}"
    if name == "mi" and len(text) > 1:
        return f"\\mathrm{{{tex}}}"
    return tex


def mathml_to_tex(element: HtmlElement) -> str:
    """Convert a MathML subtree to TeX, covering the presentation elements in common use."""
    return re.sub(r"\s+", " ", _convert(element)).strip()


def _convert(element: HtmlElement) -> str:
    name = local_name(element)
    children = [child for child in element if isinstance(child.tag, str)]
    parts = [_convert(child) for child in children]
    if name in ("mi", "mn", "mo", "mtext", "ms"):
        return _token(element, name)
    if name in ("annotation", "annotation-xml", "mphantom", "none"):
        return ""
    if name == "semantics":
        return parts[0] if parts else ""
    if name == "mspace":
        return " "
    return _convert_layout(name, element, children, parts)


def _convert_layout(name: str, element: HtmlElement, children: list, parts: list[str]) -> str:
    # Malformed scripts and fractions (too few children) keep their contents in order.
    if name in ("msup", "msub", "mfrac", "mroot", "mover", "munder") and len(parts) < 2:
        return "".join(parts)
    if name in ("msubsup", "munderover") and len(parts) < 3:
        return "".join(parts)

    if name in ("msubsup", "munderover", "msup", "msub"):
        return _base(children[0], parts[0]) + _scripts(name, parts[1:])
    if name == "mfrac":
        if (element.get("linethickness") or "").strip() in ("0", "0pt", "0px", "0em"):
            return f"\\genfrac{{}}{{}}{{0}}{{}}{{{parts[0]}}}{{{parts[1]}}}"
        return f"\\frac{{{parts[0]}}}{{{parts[1]}}}"
    if name == "msqrt":
        return f"\\sqrt{{{''.join(parts)}}}"
    if name == "mroot":
        return f"\\sqrt[{parts[1]}]{{{parts[0]}}}"
    if name == "mover":
        accent = _ACCENTS.get((children[1].text or "").strip())
        return f"{accent}{{{parts[0]}}}" if accent else f"\\overset{{{parts[1]}}}{{{parts[0]}}}"
    if name == "munder":
        if _is_operator(children[0]):
            return _base(children[0], parts[0]) + _scripts("msub", parts[1:])
        return f"\\underset{{{parts[1]}}}{{{parts[0]}}}"

    if name == "mfenced":
        opening, closing = element.get("open", "("), element.get("close", ")")
        return f"\\left{opening or '.'}{','.join(parts)}\\right{closing or '.'}"
    if name == "mtable":
        return _array(element, children, parts)
    if name in ("mtr", "mlabeledtr"):
        return " & ".join(parts)
    # mrow, mstyle, mpadded, menclose, mtd, math and unknown elements: contents in order
    return _join_row(children, parts)


def _is_operator(element: HtmlElement) -> bool:
    return local_name(element) == "mo"


def _base(element: HtmlElement, tex: str) -> str:
    # A large operator stays bare so that TeX places its limits; other bases are grouped.
    return tex if _is_operator(element) else f"{{{tex}}}"


def _scripts(name: str, parts: list[str]) -> str:
    if name == "msup":
        return f"^{{{parts[0]}}}"
    if name == "msub":
        return f"_{{{parts[0]}}}"
    return f"_{{{parts[0]}}}^{{{parts[1]}}}"


_COLUMN_ALIGN = {"left": "l", "right": "r", "center": "c"}


def _array(element: HtmlElement, rows: list, parts: list[str]) -> str:
    columns = max((len(row) for row in rows), default=1)
    alignments = [_COLUMN_ALIGN.get(value, "c") for value in (element.get("columnalign") or "").split()]
    # MathML repeats the last alignment for the remaining columns.
    fill = alignments[-1] if alignments else "c"
    padded = alignments + [fill] * max(0, columns - len(alignments))
    spec = "".join(padded[:columns])
    rows_tex = " \\\\ ".join(parts)
    return f"\\begin{{array}}{{{spec}}}{rows_tex}\\end{{array}}"


_OPENING_FENCES = {"(": ")", "[": "]", "{": "}"}
_CLOSING_FENCES = {closing: opening for opening, closing in _OPENING_FENCES.items()}


def _fence(element: HtmlElement) -> str | None:
    """Return the bracket an ``<mo>`` (or an ``<mrow>`` around only that ``<mo>``) is, else None."""
    while local_name(element) == "mrow" and len(element) == 1:
        element = element[0]
    if local_name(element) != "mo":
        return None
    text = (element.text or "").strip()
    return text if text in _OPENING_FENCES or text in _CLOSING_FENCES else None


def _join_row(children: list, parts: list[str]) -> str:
    """Join a row, writing each matched bracket pair as ``\\left( … \\right)``.

    MathJax and other TeX-to-MathML converters write "(x)^2" as an opening ``<mo>``,
    the contents and an ``<msup>`` whose base is the closing ``<mo>``, so the
    superscript must apply to the whole group, not to the bracket alone.
    """
    output: list[str] = []
    open_positions: list[tuple[int, str]] = []
    for child, part in zip(children, parts):
        fence = _fence(child)
        if fence in _OPENING_FENCES:
            open_positions.append((len(output), fence))
            output.append(part)
            continue
        closing, scripts = _closing_fence(child, fence)
        if closing is not None and open_positions and _OPENING_FENCES[open_positions[-1][1]] == closing:
            start, opening = open_positions.pop()
            group = f"\\left{_fence_tex(opening)}{''.join(output[start + 1 :])}\\right{_fence_tex(closing)}"
            del output[start:]
            output.append(f"{{{group}}}{scripts}" if scripts else group)
            continue
        output.append(part)
    return "".join(output)


def _closing_fence(child: HtmlElement, fence: str | None) -> tuple[str | None, str]:
    # Returns the closing bracket of a child and the TeX of scripts attached to it.
    if fence in _CLOSING_FENCES:
        return fence, ""
    name = local_name(child)
    grandchildren = [element for element in child if isinstance(element.tag, str)]
    if name in ("msup", "msub", "msubsup") and len(grandchildren) >= (3 if name == "msubsup" else 2):
        base_fence = _fence(grandchildren[0])
        if base_fence in _CLOSING_FENCES:
            return base_fence, _scripts(name, [_convert(element) for element in grandchildren[1:]])
    return None, ""


def _fence_tex(bracket: str) -> str:
    return {"{": "\\{", "}": "\\}"}.get(bracket, bracket)


# ---------------------------------------------------------------------------
# MathJax 3 SVG output to MathML, for pages that keep the SVG without a MathML copy

# MathJax node kinds without a MathML element of their own.
_SVG_NODE_ELEMENTS = {"TeXAtom": "mrow", "TeXmathchoice": "mrow"}
_SVG_TOKEN_ELEMENTS = {"mi", "mn", "mo", "mtext", "ms"}
_SURD = "\u221a"
_TRANSLATE_RE = re.compile(r"translate\(\s*([-+\d.eE]+)(?:[\s,]+([-+\d.eE]+))?")
# MathJax draws a tall bracket from pieces (top, extension, bottom) in U+239B to U+23AD.
_BRACKET_PIECES = (
    (0x239B, 0x239D, "("), (0x239E, 0x23A0, ")"), (0x23A1, 0x23A3, "["), (0x23A4, 0x23A6, "]"),
    (0x23A7, 0x23AA, "{"), (0x23AB, 0x23AD, "}"),
)


def is_mathjax_svg(svg: HtmlElement) -> bool:
    """Return True for an ``<svg>`` that MathJax 3 drew from a formula (its top group has ``data-mml-node="math"``)."""
    for group in svg:
        if group.tag != "g":
            continue
        for child in group:
            if child.get("data-mml-node") == "math":
                return True
    return False


def mathml_from_mathjax_svg(svg: HtmlElement) -> HtmlElement | None:
    """Rebuild the MathML ``<math>`` of a MathJax 3 SVG rendering, or return None when it has none.

    MathJax marks the group of each MathML node with ``data-mml-node`` and each glyph
    with ``data-c``, the glyph's code point in hex, so the node tree and its characters
    survive in the drawing. Glyphs in the Mathematical Alphanumeric Symbols block are
    read as the plain letter or digit that TeX writes for them.
    """
    top = next((element for element in svg.iter() if element.get("data-mml-node") == "math"), None)
    if top is None:
        return None
    return _mathml_element(top)


def _mathml_element(group: HtmlElement) -> HtmlElement:
    kind = group.get("data-mml-node")
    element = lxml.html.Element(_SVG_NODE_ELEMENTS.get(kind, kind))
    if element.tag in _SVG_TOKEN_ELEMENTS:
        element.text = _glyph_text(group)
        return element

    children = list(_mml_children(group, 0.0))
    if element.tag in ("msqrt", "mroot"):
        # The radical sign is drawn as an <mo> of its own, which MathML does not have.
        children = [(child, y) for child, y in children if _glyph_text(child) != _SURD]
    for child, _ in _script_order(element.tag, children):
        element.append(_mathml_element(child))
    return element


def _mml_children(group: HtmlElement, y_offset: float):
    """Yield (node group, vertical offset) for the nearest ``data-mml-node`` descendants, in order."""
    for child in group:
        if not isinstance(child.tag, str):
            continue
        y = y_offset + _translate_y(child)
        if child.get("data-mml-node"):
            yield child, y
        else:
            yield from _mml_children(child, y)


def _translate_y(element: HtmlElement) -> float:
    match = _TRANSLATE_RE.search(element.get("transform") or "")
    if match is None or match.group(2) is None:
        return 0.0
    try:
        return float(match.group(2))
    except ValueError:
        return 0.0


def _script_order(name: str, children: list) -> list:
    """Put the children of a script or radical node in MathML order, read from their height.

    SVG coordinates inside MathJax's output point up (it flips the y axis), so of two
    scripts the higher one is the superscript (``msubsup``) or the overscript
    (``munderover``), and the index of ``mroot`` sits above its base.
    """
    if name in ("msubsup", "munderover") and len(children) == 3:
        return [children[0], *sorted(children[1:], key=lambda pair: pair[1])]
    if name == "mroot" and len(children) == 2:
        return sorted(children, key=lambda pair: pair[1])
    return children


def _glyph_text(group: HtmlElement) -> str:
    characters = []
    for element in group.iter():
        code = element.get("data-c")
        if code:
            characters.append(_glyph_character(code))
        elif element.tag == "text" and element.text:
            characters.append(element.text)  # characters outside MathJax's fonts (CJK in \text)
    return _join_bracket_pieces("".join(characters))


def _glyph_character(code: str) -> str:
    try:
        code_point = int(code, 16)
        character = chr(code_point)
    except (ValueError, OverflowError):
        return ""
    if 0x1D400 <= code_point <= 0x1D7FF or code_point == 0x210E:
        return unicodedata.normalize("NFKC", character)
    return character


def _join_bracket_pieces(text: str) -> str:
    if not text:
        return text
    for first, last, bracket in _BRACKET_PIECES:
        if all(first <= ord(character) <= last for character in text):
            return bracket
    return text
