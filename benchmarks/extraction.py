"""Benchmark HTML extraction against trafilatura on the shared corpus, both in one run.

Measures, for ``extract_html`` and for trafilatura alone (Markdown output):

- formula recall over the ``webkit__*`` math pages: a formula counts when its TeX,
  whitespace removed, appears inside a ``$…$`` or ``$$…$$`` span of the output;
- exact code-block recall over the ``webkit__*.expected_code.json`` blocks: a block
  counts when its exact lines appear in the output;
- token F1 of the article text on ``html_general/scrapinghub_aeb``, and character F1
  on the Chinese pages that ship their main text;
- documents per CPU second over the scrapinghub pages, against trafilatura's
  default (plain text) extraction of the same pages.

Usage: ``.venv/bin/python benchmarks/extraction.py [--shared ../shared] [--no-write]``.
The section "## HTML extraction" of benchmarks/RESULTS.md is replaced with the results.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import gzip
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import lxml.html
import trafilatura

from mimo_data.extract import extract_html

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO_ROOT / "benchmarks" / "RESULTS.md"
SECTION_HEADING = "## HTML extraction"

# $$…$$ first so that its dollars are not read as two empty inline formulas.
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$]+?)\$", re.DOTALL)
# The reference block of the Discuz page ends with the label of its "copy code" button
# (复制代码), which is page chrome and not code; that last line is removed before comparing.
_REFERENCE_BUTTON_LABELS = ("复制代码",)
_SVG_RE = re.compile(r"<svg\b.*?</svg>", re.DOTALL | re.IGNORECASE)
_HTML_TAG_RE = re.compile(r"</?[A-Za-z][^<>\n]*>")
_MARKDOWN_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
# Fenced blocks and inline code spans, whose dollars are not math delimiters.
_MARKDOWN_CODE_RE = re.compile(r"(`{3,})[^\n]*\n.*?\n\1|(`+)[^`\n]*?\2", re.DOTALL)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def trafilatura_markdown(raw: bytes) -> str:
    return trafilatura.extract(raw.decode("utf-8", errors="replace"), output_format="markdown") or ""


# ---------------------------------------------------------------------------
# Formulas and code blocks


def formula_recall(corpus: Path) -> dict[str, tuple[int, int]]:
    """Return {extractor: (formulas found, formulas expected)} over the webkit math pages."""
    totals = {"ours": 0, "trafilatura": 0}
    expected_total = 0
    for page in sorted((corpus / "html_math").glob("webkit__*.html")):
        listings = [page.with_name(page.name.replace(".html", f".expected_{kind}_formulas.txt")) for kind in ("inline", "display")]
        if not all(listing.exists() for listing in listings):
            continue
        formulas = [line for listing in listings for line in listing.read_text("utf-8").splitlines() if line.strip()]
        raw = page.read_bytes()
        for name, markdown in (("ours", extract_html(raw).text), ("trafilatura", trafilatura_markdown(raw))):
            spans = "\x00".join(squeeze(match.group(1) or match.group(2)) for match in _MATH_SPAN_RE.finditer(markdown))
            totals[name] += sum(1 for formula in formulas if squeeze(formula) in spans)
        expected_total += len(formulas)
    return {name: (found, expected_total) for name, found in totals.items()}


def code_recall(corpus: Path) -> dict[str, tuple[int, int]]:
    """Return {extractor: (blocks found exactly, blocks expected)} over the webkit code pages."""
    totals = {"ours": 0, "trafilatura": 0}
    expected_total = 0
    for listing_path in sorted((corpus / "html_code").glob("webkit__*.expected_code.json")):
        listing = json.loads(listing_path.read_text("utf-8"))
        blocks = [_reference_block(item["content"]) for item in listing.get("expected", []) if item.get("kind") == "block_file"]
        if not blocks:
            continue
        raw = (listing_path.parent / listing["html"]).read_bytes()
        for name, markdown in (("ours", extract_html(raw).text), ("trafilatura", trafilatura_markdown(raw))):
            totals[name] += sum(1 for block in blocks if block in markdown)
        expected_total += len(blocks)
    return {name: (found, expected_total) for name, found in totals.items()}


def _reference_block(content: str) -> str:
    lines = content.rstrip("\n").split("\n")
    if lines and lines[-1].strip() in _REFERENCE_BUTTON_LABELS:
        lines.pop()
    return "\n".join(lines).rstrip("\n")


# ---------------------------------------------------------------------------
# Article text


def f1(predicted: list[str], expected: list[str]) -> float:
    """Bag-of-units F1 between two lists of tokens or characters."""
    if not predicted or not expected:
        return 0.0
    overlap = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def characters(text: str) -> list[str]:
    # Chinese has no spaces between words, so it is compared character by character.
    return [char for char in text if not char.isspace() and not _is_markup_char(char)]


def _is_markup_char(char: str) -> bool:
    return char in "#*`|>-_[]()"


def scrapinghub_pages(corpus: Path) -> list[tuple[bytes, str]]:
    folder = corpus / "html_general" / "scrapinghub_aeb"
    truth = json.loads((folder / "ground-truth.json").read_text("utf-8"))
    pages = []
    for page_id, record in sorted(truth.items()):
        path = folder / "html" / f"{page_id}.html.gz"
        if path.exists():
            pages.append((gzip.decompress(path.read_bytes()), record["articleBody"]))
    return pages


def chinese_pages(corpus: Path) -> list[tuple[str, bytes, str, bool]]:
    """Return (name, page bytes, main text, formulas drawn as SVG) for the Chinese pages that ship their main text.

    The last field is True where the reference keeps the page's formulas only as inline
    SVG drawings, which ``rendered_text`` removes.
    """
    folder = corpus / "html_zh"
    pages = []
    for truth_path in sorted(folder.glob("*.groundtruth.json")):
        record = json.loads(truth_path.read_text("utf-8"))
        text = record.get("cleaned") or record.get("content")
        page = truth_path.with_name(truth_path.name.replace(".groundtruth.json", ".html"))
        if text and page.exists():
            pages.append((page.name, page.read_bytes(), text, False))
    for truth_path in sorted(folder.glob("*.expected.txt")):
        page = truth_path.with_name(truth_path.name.replace(".expected.txt", ".html"))
        if page.exists():
            pages.append((page.name, page.read_bytes(), truth_path.read_text("utf-8"), False))
    # sitdown pages (WeChat, Zhihu, Juejin) ship the Markdown that the sitdown converter wrote.
    for truth_path in sorted(folder.glob("sitdown__*.expected.md")):
        page = truth_path.with_name(truth_path.name.replace(".expected.md", ".html"))
        if page.exists():
            reference = truth_path.read_text("utf-8")
            pages.append((page.name, page.read_bytes(), rendered_text(reference), "<svg" in reference))
    for truth_path in sorted(folder.glob("readability__*_expected.html")):
        page = truth_path.with_name(truth_path.name.replace("_expected.html", "_source.html"))
        if page.exists():
            # The reference is a UTF-8 fragment without a charset declaration, which
            # lxml would read as Latin-1 if handed the bytes.
            text = lxml.html.fromstring(truth_path.read_text("utf-8")).text_content()
            pages.append((page.name, page.read_bytes(), text, False))
    return pages


def rendered_text(markdown: str) -> str:
    """Return the text a reader sees in Markdown: link and image targets and raw HTML tags removed.

    The sitdown references keep formulas as raw inline ``<svg>`` whose path data is
    not text, and keep every link and image URL. Counted as characters, those URLs and
    path data made up most of some references. Both extractors' outputs go through
    the same function before they are compared.
    """
    text = _SVG_RE.sub("", markdown)
    text = _HTML_TAG_RE.sub("", text)
    text = _MARKDOWN_IMAGE_RE.sub(r"\1", text)
    return _MARKDOWN_LINK_RE.sub(r"\1", text)


def without_formulas(markdown: str) -> str:
    """Remove the ``$…$`` and ``$$…$$`` spans of Markdown text, leaving code spans and fenced blocks as they are.

    Used on pages whose reference draws each formula as SVG, which ``rendered_text``
    removes, so that an extractor that writes those formulas as TeX is not charged
    for them as extra text. Formulas are scored by the formula recall instead.
    """
    pieces = []
    position = 0
    for match in _MARKDOWN_CODE_RE.finditer(markdown):
        pieces.append(_MATH_SPAN_RE.sub("", markdown[position : match.start()]))
        pieces.append(match.group(0))
        position = match.end()
    pieces.append(_MATH_SPAN_RE.sub("", markdown[position:]))
    return "".join(pieces)


def article_f1(corpus: Path) -> dict[str, dict[str, float]]:
    scores: dict[str, dict[str, list[float]]] = {"ours": collections.defaultdict(list), "trafilatura": collections.defaultdict(list)}
    for raw, truth in scrapinghub_pages(corpus):
        scores["ours"]["scrapinghub"].append(f1(words(extract_html(raw).text), words(truth)))
        scores["trafilatura"]["scrapinghub"].append(f1(words(trafilatura_markdown(raw)), words(truth)))
    for _, raw, truth, formulas_as_svg in chinese_pages(corpus):
        # trafilatura is given the bytes so that it applies its own charset detection.
        outputs = {"ours": extract_html(raw).text, "trafilatura": trafilatura.extract(raw, output_format="markdown") or ""}
        for name, markdown in outputs.items():
            if formulas_as_svg:
                markdown = without_formulas(markdown)
            scores[name]["chinese"].append(f1(characters(rendered_text(markdown)), characters(truth)))
    return {name: {kind: sum(values) / len(values) for kind, values in kinds.items()} for name, kinds in scores.items()}


# ---------------------------------------------------------------------------
# Throughput


def throughput(corpus: Path, repeats: int) -> dict[str, float]:
    """Return documents per CPU second for ours and trafilatura's default.

    CPU time of this process is measured, not wall time, and the two extractors
    alternate page by page, so that other load on a shared machine slows neither
    of them more than the other.
    """
    pages = [raw for raw, _ in scrapinghub_pages(corpus)]
    runs = {
        "ours": lambda raw: extract_html(raw),
        "trafilatura": lambda raw: trafilatura.extract(raw),
    }
    seconds = dict.fromkeys(runs, 0.0)
    for _ in range(repeats):
        for raw in pages:
            for name, run in runs.items():
                start = time.process_time()
                run(raw)
                seconds[name] += time.process_time() - start
    return {name: repeats * len(pages) / seconds[name] for name in runs}


# ---------------------------------------------------------------------------
# Report


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def render(formulas, code, articles, rates, command: str, load: tuple[float, float]) -> str:
    def ratio(pair: tuple[int, int]) -> str:
        return f"{pair[0]}/{pair[1]} = {pair[0] / pair[1]:.3f}"

    lines = [
        SECTION_HEADING,
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores (one used); Python {platform.python_version()}, "
        f"trafilatura {trafilatura.__version__}. Date: {datetime.date.today().isoformat()}.",
        f"1-minute load average before and after the run: {load[0]:.1f} and {load[1]:.1f} (other jobs share the cores).",
        f"Command: `{command}`",
        "",
        "| measure | ours | trafilatura |",
        "|---|---|---|",
        f"| formula recall (webkit math pages) | {ratio(formulas['ours'])} | {ratio(formulas['trafilatura'])} |",
        f"| exact code-block recall (webkit code pages) | {ratio(code['ours'])} | {ratio(code['trafilatura'])} |",
        f"| token F1, scrapinghub_aeb articles | {articles['ours']['scrapinghub']:.3f} | {articles['trafilatura']['scrapinghub']:.3f} |",
        f"| character F1, Chinese pages with main text | {articles['ours']['chinese']:.3f} | {articles['trafilatura']['chinese']:.3f} |",
        f"| documents per CPU second, scrapinghub pages | {rates['ours']:.1f} | {rates['trafilatura']:.1f} (default text output) |",
        f"| throughput ratio, ours / trafilatura default | {rates['ours'] / rates['trafilatura']:.2f} | 1.00 |",
        "",
        "trafilatura runs with Markdown output for the recall and F1 rows. Throughput is CPU time of",
        "this process with the two extractors alternating page by page. The Chinese row covers the",
        "pages of html_zh with ground truth, WeChat and Zhihu formula pages included. The sitdown references",
        "and both outputs are compared as rendered text (link and image URLs, raw HTML and inline SVG",
        "removed), and the readability references are read as UTF-8. Where a sitdown reference draws its",
        "formulas as SVG (two WeChat pages), the `$…$` spans outside code are removed from both outputs",
        "before comparing, because the reference has no text for them. The reference code block of",
        "the Discuz page ends with its copy button's label (复制代码), which is dropped before comparing.",
        "",
        "",
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace this benchmark's section of RESULTS.md, leaving the other sections as they are."""
    text = RESULTS_PATH.read_text("utf-8") if RESULTS_PATH.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION_HEADING)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS_PATH.write_text(text, "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO_ROOT / ".." / "shared", help="the shared folder")
    parser.add_argument("--repeats", type=int, default=1, help="passes over the scrapinghub pages when timing")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md unchanged")
    args = parser.parse_args(argv)
    corpus = args.shared / "corpus"

    load_before = os.getloadavg()[0]
    formulas = formula_recall(corpus)
    code = code_recall(corpus)
    articles = article_f1(corpus)
    rates = throughput(corpus, args.repeats)

    command = "python benchmarks/extraction.py " + " ".join(argv if argv is not None else sys.argv[1:])
    section = render(formulas, code, articles, rates, command.strip(), (load_before, os.getloadavg()[0]))
    print(section)
    if not args.no_write:
        write_section(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
