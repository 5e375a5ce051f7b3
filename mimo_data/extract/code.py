"""Read code blocks out of HTML with their exact lines, and render them as Markdown fences."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml.html import HtmlElement

_LANGUAGE_CLASS_RE = re.compile(r"^(?:language|lang|highlight|brush|sourceCode)-?:?([A-Za-z0-9_+#.-]+)$")
_LANGUAGE_NAME_RE = re.compile(r"^[A-Za-z0-9_+#.-]{1,30}$")
# Collapsible whitespace of HTML outside <pre>; U+00A0 (&nbsp;) is not collapsed.
_HTML_SPACE_RE = re.compile(r"[ \t\r\n\f]+")


@dataclass(frozen=True)
class CodeBlock:
    """A code block's text (lines joined by newlines, no trailing newline) and language."""

    text: str
    language: str | None


def code_from_pre(pre: HtmlElement) -> CodeBlock:
    """Read a ``<pre>`` (or ``<pre><code>``) block, keeping spaces, tabs and blank lines."""
    text = _join_lines(_iter_text(pre))
    return CodeBlock(_trim_blank_lines(text), code_language(pre))


def code_from_br_lines(code: HtmlElement) -> CodeBlock:
    """Read a ``<code>`` block whose lines are separated by ``<br>`` (forum BBCode).

    Outside ``<pre>`` a browser collapses runs of spaces and newlines and drops
    them at line starts, while ``&nbsp;`` survives, so indentation on such pages is
    written with ``&nbsp;``. The same rules are applied here.
    """
    lines = []
    current: list[str] = []
    for piece in [*_iter_text(code), _LINE_BREAK]:
        if isinstance(piece, str):
            current.append(piece)
            continue
        if piece is _LINE_START and not "".join(current).strip():
            continue
        line = _HTML_SPACE_RE.sub(" ", "".join(current)).strip(" ").replace("\u00a0", " ")
        lines.append(line.rstrip())
        current = []
    return CodeBlock(_trim_blank_lines("\n".join(lines)), code_language(code))


def is_br_code_block(code: HtmlElement) -> bool:
    """Return True for a ``<code>`` outside ``<pre>`` that contains ``<br>`` line breaks."""
    return any(True for _ in code.iter("br"))


# Elements that flow within a line of text. A <code> wrapped only in them still sits
# in the paragraph around them.
_INLINE_TAGS = frozenset({
    "a", "abbr", "b", "bdi", "cite", "del", "em", "font", "i", "ins", "kbd", "label", "mark", "q",
    "s", "samp", "small", "span", "strong", "sub", "sup", "u", "var",
})
# An inline <code> of more lines or characters than these is taken for a block that
# CSS shows with its line breaks. Both limits sit above what WeChat articles exported
# by the mdnice editor show: at most 2 source lines of about 20 characters.
# NOTE: a longer phrase that an editor wrapped over more lines still becomes a fenced block.
MAX_INLINE_CODE_LINES = 3
MAX_INLINE_CODE_CHARS = 200


def is_inline_code_with_line_break(code: HtmlElement) -> bool:
    """Return True for a ``<code>`` outside ``<pre>`` that reads as a phrase but breaks over source lines.

    A browser collapses the whitespace of such a ``<code>`` (CSS ``white-space:
    normal``), so the line break exists only in the HTML source, put there by an
    editor's pretty-printer. The ``<code>`` counts as a phrase when it is short and the
    block around it (its nearest ancestor that is not an inline element) has other text.
    A ``<code>`` alone in its block stays a block.
    """
    text = code.text_content()
    if "\n" not in text:
        return False
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines or len(lines) > MAX_INLINE_CODE_LINES:
        return False
    code_text = _HTML_SPACE_RE.sub(" ", text).strip()
    if len(code_text) > MAX_INLINE_CODE_CHARS:
        return False

    block = code.getparent()
    while block is not None and block.tag in _INLINE_TAGS:
        block = block.getparent()
    if block is None or block.tag == "pre":
        return False
    block_text = _HTML_SPACE_RE.sub(" ", block.text_content()).strip()
    return len(block_text) > len(code_text)


def collapse_code_whitespace(code: HtmlElement) -> None:
    """Collapse each run of HTML whitespace inside a ``<code>`` to one space, as a browser shows it.

    A space at either end moves outside the element, so that the Markdown code span
    does not start or end with it but the words around it stay apart.
    """
    for element in code.iter():
        if element.text:
            element.text = _HTML_SPACE_RE.sub(" ", element.text)
        if element is not code and element.tail:
            element.tail = _HTML_SPACE_RE.sub(" ", element.tail)

    if code.text and code.text.startswith(" "):
        code.text = code.text[1:]
        _add_text_before(code, " ")
    last = code[-1] if len(code) else code
    end_text = last.text if last is code else last.tail
    if end_text and end_text.endswith(" "):
        if last is code:
            code.text = end_text[:-1]
        else:
            last.tail = end_text[:-1]
        code.tail = " " + (code.tail or "")


def _add_text_before(element: HtmlElement, text: str) -> None:
    previous = element.getprevious()
    parent = element.getparent()
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    elif parent is not None:
        parent.text = (parent.text or "") + text


def code_language(element: HtmlElement) -> str | None:
    """Return the language named by ``class="language-xx"``-style hints on the block or its <code>."""
    candidates = [element]
    candidates.extend(child for child in element if child.tag == "code")
    for candidate in candidates:
        data_lang = candidate.get("data-lang") or candidate.get("data-language")
        if data_lang and _LANGUAGE_NAME_RE.match(data_lang):
            return data_lang.lower()
        for css_class in (candidate.get("class") or "").split():
            match = _LANGUAGE_CLASS_RE.match(css_class)
            if match:
                return match.group(1).lower()
    return None


# Cells of one source line in code-view tables (Gitiles, Gitea, GitHub, Pygments
# "table" line numbers): the line-number cell and the cell with the code line.
_LINE_NUMBER_CELL_RE = re.compile(r"line-?num|lineno|linenos|line-number|blob-num|lines-num|gutter", re.IGNORECASE)
_CODE_CELL_RE = re.compile(r"code|line-?content|linecontent|source", re.IGNORECASE)
# Containers of forum BBCode blocks that list one line per <li> or per <br> (Discuz
# "blockcode", vBulletin "bbcode_code", phpBB "codebox").
_CODE_CONTAINER_CLASSES = {"blockcode", "codeblock", "code-block", "code_block", "bbcode_code", "codebox", "codecontent"}


def is_line_table(table: HtmlElement) -> bool:
    """Return True for a ``<table>`` that shows source code one line per row, beside line numbers.

    Every row with cells must have a line-number cell and a code cell, and at least
    one row must exist, so a data table that happens to number its rows (no code
    cell) is left alone.
    """
    rows = [row for row in table.iter("tr") if _nearest_table(row) is table]
    if not rows:
        return False
    for row in rows:
        cells = [cell for cell in row if cell.tag in ("td", "th")]
        if not cells:
            continue
        if _line_cells(cells) is None:
            return False
    return True


def code_from_line_table(table: HtmlElement) -> CodeBlock:
    """Read a code-view table: the code cell of each row is one line (or a whole ``<pre>``)."""
    lines = []
    language = None
    for row in table.iter("tr"):
        if _nearest_table(row) is not table:
            continue
        cells = [cell for cell in row if cell.tag in ("td", "th")]
        line_cells = _line_cells(cells) if cells else None
        if line_cells is None:
            continue
        code_cell = line_cells[1]
        language = language or code_language(code_cell) or next(
            (code_language(child) for child in code_cell.iter("pre", "code") if code_language(child)), None
        )
        text = _join_lines(_iter_text(code_cell))
        # Highlighters end each line's cell with the newline of that line.
        lines.append(text[:-1] if text.endswith("\n") else text)
    return CodeBlock(_trim_blank_lines("\n".join(lines)), language or code_language(table))


def is_list_code_block(element: HtmlElement) -> bool:
    """Return True for a forum code container (``div.blockcode``) without a ``<pre>`` inside."""
    if not _CODE_CONTAINER_CLASSES & set((element.get("class") or "").split()):
        return False
    return next(element.iter("pre"), None) is None and any(True for _ in element.iter("li", "br"))


def code_from_list_block(element: HtmlElement) -> CodeBlock:
    """Read a forum code container whose lines are ``<li>`` items or ``<br>``-separated.

    Only the ``<ol>``/``<ul>`` is read when there is one, because the container also
    holds buttons such as "copy code".
    """
    listing = next(element.iter("ol", "ul"), None)
    block = code_from_br_lines(listing if listing is not None else element)
    return CodeBlock(block.text, code_language(element) or block.language)


def _nearest_table(element: HtmlElement) -> HtmlElement | None:
    return next(element.iterancestors("table"), None)


def _line_cells(cells: list[HtmlElement]) -> tuple[HtmlElement, HtmlElement] | None:
    # Returns (line-number cell, code cell) of one row, or None when the row has no such pair.
    number_cell = next((cell for cell in cells if _is_line_number_cell(cell)), None)
    if number_cell is None:
        return None
    code_cells = [cell for cell in cells if cell is not number_cell and _CODE_CELL_RE.search(cell.get("class") or "")]
    if not code_cells:
        return None
    return number_cell, code_cells[-1]


def _is_line_number_cell(cell: HtmlElement) -> bool:
    if _LINE_NUMBER_CELL_RE.search(cell.get("class") or ""):
        return True
    return cell.get("data-line-number") is not None


def to_fence(block: CodeBlock) -> str:
    """Render a code block as a Markdown fence longer than any backtick run in it."""
    longest_run = max((len(run) for run in re.findall(r"`+", block.text)), default=0)
    fence = "`" * max(3, longest_run + 1)
    return f"{fence}{block.language or ''}\n{block.text}\n{fence}"


_LINE_BREAK = object()  # <br>: always a new line
_LINE_START = object()  # a line element: a new line unless one just started
# Elements inside <pre> that start a new line, as used by highlighters that wrap each
# line in its own element (Expressive Code: <div class="ec-line">).
_LINE_TAGS = {"div", "p", "li", "tr"}
# Line-number gutters that highlighters put inside <pre>; their digits are not code.
_GUTTER_CLASSES = {"gutter", "ln", "linenos", "lineno", "line-number", "line-numbers", "hljs-ln-numbers", "react-syntax-highlighter-line-number"}


def _iter_text(element: HtmlElement) -> Iterator[str | object]:
    # Text in document order with line markers; comments contribute only their tail.
    if isinstance(element.tag, str) and element.text:
        yield element.text
    for child in element:
        if child.tag == "br":
            yield _LINE_BREAK
        elif isinstance(child.tag, str) and not _is_gutter(child):
            if child.tag in _LINE_TAGS:
                yield _LINE_START
            yield from _iter_text(child)
        if child.tail:
            yield child.tail


def _is_gutter(element: HtmlElement) -> bool:
    if element.get("aria-hidden") == "true":
        return True
    return bool(_GUTTER_CLASSES & set((element.get("class") or "").split()))


def _join_lines(pieces: Iterator[str | object]) -> str:
    parts: list[str] = []
    at_line_start = True
    for piece in pieces:
        if piece is _LINE_BREAK or (piece is _LINE_START and not at_line_start):
            parts.append("\n")
            at_line_start = True
        elif isinstance(piece, str) and piece:
            parts.append(piece)
            at_line_start = piece.endswith("\n")
    return "".join(parts)


def _trim_blank_lines(text: str) -> str:
    # Drop blank lines around the block but keep the first line's indentation.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)
