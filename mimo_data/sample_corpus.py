"""Write the demo corpus: web pages, math and code pages, a WARC crawl, PDFs and synthetic responses.

Every sentence, formula and program is generated here from templates and word
lists with ``random.Random(seed)``, so the corpus carries no third-party text and
the same seed writes byte-identical files. The layout is what the demo pipeline
reads::

    web/en-NN.html, web/en-NN.html.gz   English articles on varied topics
    web/en-NN-near-dup.html             an article again with a few words edited
                                        and different navigation and footer
    web/en-NN-exact-dup.html            a byte copy of web/en-NN.html
    web/low-quality-*.html              navigation only, keyword spam, too short
    web/zh-NN-{gb2312,gb18030,utf8}.html  Chinese articles in those encodings
    math/math-NN-STYLE.html             STYLE: mathjax2, mathml, katex, tex-text, wechat
                                        (data-formula), wikipedia (mwe-math), wp-katex
                                        or latex-image (WordPress latex.php)
    code/code-NN.html                   Python tutorials: a <pre><code> block, then a
                                        <pre><code>, line-numbered table or div.highlight
    crawl.warc.gz                       HTML responses, a request, a JSON response
    pdf/formulas.pdf, pdf/code-listing.pdf
    synthetic/responses.jsonl           question, response and text per line

Run ``python -m mimo_data.sample_corpus OUT_DIR [--seed N]`` to write it.
"""

from __future__ import annotations

import argparse
import gzip
import html
import io
import json
import logging
import random
import urllib.parse
import uuid
from pathlib import Path

import pymupdf
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

logger = logging.getLogger(__name__)

# Fixed so that reruns write identical bytes: WARC dates, HTTP dates, PDF metadata.
FIXED_WARC_DATE = "2024-05-01T12:00:00Z"
FIXED_HTTP_DATE = "Wed, 01 May 2024 12:00:00 GMT"
FIXED_PDF_DATE = "D:20240501120000Z"

ENGLISH_ARTICLES = 36
NEAR_DUPLICATE_OF = (3, 14, 25)  # articles written a second time with small edits
EXACT_DUPLICATE_OF = (7, 19)  # articles copied byte for byte
GZIPPED_EVERY = 9  # every ninth English article is saved as .html.gz
CHINESE_ENCODINGS = ("gb2312", "utf8", "gb18030", "utf8", "gb2312", "utf8")
MATH_STYLES = ("mathjax2", "mathml", "katex", "tex-text", "wechat", "wikipedia", "wp-katex", "latex-image")
# Markup of the second code block on each code page, in turn.
CODE_STYLES = ("pre-code", "highlight-table", "div-highlight")
MATH_PAGES = 24  # three pages per math style
CODE_PAGES = 12
WARC_PAGES = {"web": 4, "math": 3, "code": 3}
SYNTHETIC_MATH = 26
SYNTHETIC_CODE = 14


# ---------------------------------------------------------------------------
# English prose

TOPICS: dict[str, list[str]] = {
    "gardening": ["tomato", "compost heap", "raised bed", "seedling", "trellis", "rain barrel",
                  "pumpkin vine", "herb border", "mulch layer", "greenhouse", "soil sample", "pea shoot"],
    "cycling": ["gravel bike", "chain", "saddle", "climb", "tailwind", "inner tube",
                "route map", "derailleur", "handlebar bag", "valley road", "brake pad", "time trial"],
    "baking": ["sourdough loaf", "starter", "rye flour", "proofing basket", "oven stone", "crumb",
               "dough", "crust", "baguette", "cinnamon roll", "kneading board", "rising time"],
    "birdwatching": ["heron", "kestrel", "binocular strap", "field guide", "marsh hide", "wren",
                     "migration", "nesting box", "song thrush", "tide pool", "feeder", "owl call"],
    "home energy": ["heat pump", "solar panel", "insulation", "meter reading", "draught strip",
                    "boiler", "battery bank", "window frame", "thermostat", "loft hatch", "inverter", "radiator"],
    "local history": ["parish record", "mill", "railway station", "market charter", "stone bridge",
                      "census sheet", "archive box", "old map", "chapel", "canal lock", "tithe barn", "letter"],
    "hiking": ["ridge path", "trail marker", "rucksack", "boot lace", "summit cairn", "water filter",
               "switchback", "trekking pole", "mountain hut", "scree slope", "compass", "rain shell"],
    "photography": ["prime lens", "tripod", "exposure", "shutter", "light meter", "film roll",
                    "darkroom", "portrait", "histogram", "aperture ring", "negative", "lens hood"],
    "beekeeping": ["hive", "queen cell", "smoker", "honey frame", "brood box", "swarm",
                   "wax comb", "bee suit", "pollen load", "nectar flow", "varroa board", "extractor"],
    "sailing": ["dinghy", "jib sheet", "mooring", "tide table", "keel", "harbour wall",
                "spinnaker", "life jacket", "tiller", "channel buoy", "reef point", "anchor chain"],
    "pottery": ["kiln", "glaze", "throwing wheel", "clay body", "slip", "bisque bowl",
                "trimming tool", "stoneware jug", "wedging table", "raku firing", "teapot spout", "porcelain cup"],
    "astronomy": ["telescope", "star chart", "meteor shower", "eyepiece", "nebula", "dark site",
                  "planet", "red torch", "equatorial mount", "eclipse", "moon crater", "comet tail"],
}

NAMES = ["Amira", "Bruno", "Chen", "Dalia", "Emeka", "Freya", "Gustavo", "Hana", "Ivan", "Jonas",
         "Keiko", "Lars", "Maya", "Nikhil", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tariq",
         "Uma", "Viktor", "Wen", "Yusuf", "Zofia", "Alba", "Bilal", "Carmen", "Dev", "Elif"]
PLACES = ["the harbour", "the old quarry", "a hill farm", "the river meadow", "the allotments",
          "a village hall", "the town library", "the north ridge", "a quiet cove", "the station yard",
          "the market square", "an orchard", "the estuary", "the common", "a disused mill",
          "the community garden", "the coastal path", "a mountain hut", "the school field", "the ferry landing"]
ADJECTIVES = ["sturdy", "patient", "unexpected", "careful", "bright", "narrow", "generous", "steady",
              "fragile", "muddy", "quiet", "stubborn", "cheerful", "crooked", "gentle", "heavy",
              "reliable", "rusty", "simple", "tidy", "windy", "vivid", "awkward", "humble", "weathered"]
ADVERBS = ["slowly", "carefully", "twice", "eventually", "quietly", "briskly", "gladly",
           "reluctantly", "easily", "patiently", "proudly", "nervously", "happily"]
VERBS = ["checked", "repaired", "measured", "cleaned", "moved", "painted", "replaced", "borrowed",
         "sketched", "tested", "adjusted", "labelled", "photographed", "weighed", "sorted", "mended"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEATHER = ["a cold drizzle", "bright sunshine", "a strong westerly wind", "low fog", "light snow",
           "a humid afternoon", "a clear frosty night", "steady rain"]
UNITS = ["minutes", "hours", "days", "weeks", "months"]

SENTENCE_TEMPLATES = [
    "{name} {verb} the {adj} {noun} near {place} in {month}.",
    "After {num} {unit}, the {noun} looked {adj2} than anyone expected.",
    "We {adverb} {verb} every {noun} before {weather} arrived.",
    "Nobody at {place} had seen a {noun} quite so {adj} since {year}.",
    "{name} says a {adj} {noun} is worth more than {num} new ones.",
    "On the {ordinal} visit, {name} {verb} the {noun} and wrote down {num} notes.",
    "If the {noun} feels {adj}, wait {num} {unit} and try again.",
    "Despite {weather}, {name} and {name2} {verb} the {noun} {adverb}.",
    "The {adj} {noun} from {place} cost {num} pounds in {year}.",
    "Why does a {noun} behave so differently in {month} than in {month2}?",
    "{name2} kept a diary of each {noun}, filling {num} pages by {month}.",
    "Our group {verb} {num} {nouns} at {place}, then argued about the {noun2}.",
    "A {adj} {noun2} is the first thing {name} notices at {place}.",
    "Keep the {noun} away from the {noun2}, or it will turn {adj} within {num} {unit}.",
    "{name} learned about the {noun2} from a neighbour who moved to {place} in {year}.",
    "Every {month}, the {noun} at {place} needs {num} {unit} of {adj} attention.",
]

PARAGRAPH_OPENERS = [
    "Here is what we learned this season.",
    "A few readers asked for more detail.",
    "This part surprised us most.",
    "Some background first.",
    "The next step took longer than planned.",
    "Finally, a word about costs.",
]


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "ch", "sh", "o")):
        return noun + "es"
    return noun + "s"


def _sentence(rng: random.Random, nouns: list[str]) -> str:
    template = rng.choice(SENTENCE_TEMPLATES)
    noun, noun2 = rng.sample(nouns, 2)
    name, name2 = rng.sample(NAMES, 2)
    month, month2 = rng.sample(MONTHS, 2)
    adjective = rng.choice(ADJECTIVES)
    sentence = template.format(
        name=name, name2=name2, noun=noun, noun2=noun2, nouns=_plural(noun), adj=adjective,
        adj2="more " + rng.choice(ADJECTIVES), adverb=rng.choice(ADVERBS), verb=rng.choice(VERBS),
        place=rng.choice(PLACES), month=month, month2=month2, weather=rng.choice(WEATHER),
        num=rng.randint(2, 97), unit=rng.choice(UNITS), year=rng.randint(1952, 2023),
        ordinal=_ordinal(rng.randint(2, 12)),
    )
    return sentence[0].upper() + sentence[1:]


def _paragraphs(rng: random.Random, nouns: list[str], count: int) -> list[str]:
    paragraphs = []
    for index in range(count):
        sentences = [_sentence(rng, nouns) for _ in range(rng.randint(5, 7))]
        if index > 0 and rng.random() < 0.4:
            sentences.insert(0, rng.choice(PARAGRAPH_OPENERS))
        paragraphs.append(" ".join(sentences))
    return paragraphs


# ---------------------------------------------------------------------------
# HTML page shell

SITE_NAMES = ["Field Notes", "The Weekend Workshop", "Slow Hobbies", "Backyard Almanac", "Open Shed"]
NAV_LINKS = ["Home", "Archive", "About", "Contact", "Newsletter", "Events", "Shop", "Tags"]
FOOTERS = [
    "All posts are written by volunteers. Comments are moderated.",
    "Subscribe to the monthly letter for new articles and events.",
    "Photos and text by the authors unless stated otherwise.",
]


def _nav_html(rng: random.Random) -> str:
    links = rng.sample(NAV_LINKS, 5)
    items = "".join(f'<li><a href="/{link.lower()}/">{link}</a></li>' for link in links)
    return f'<nav class="site-nav"><ul>{items}</ul></nav>'


def _page_html(title: str, body: str, *, rng: random.Random, lang: str = "en",
               charset: str = "utf-8", head_extra: str = "") -> str:
    """Wrap an article body in a page with header, navigation, sidebar and footer."""
    site = rng.choice(SITE_NAMES)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="{charset}">\n'
        f"<title>{html.escape(title)} | {site}</title>\n{head_extra}</head>\n<body>\n"
        f'<header><div class="logo">{site}</div>{_nav_html(rng)}</header>\n'
        f"<main>\n<article>\n<h1>{html.escape(title)}</h1>\n{body}\n</article>\n"
        f'<aside class="sidebar"><h3>Popular</h3><ul><li><a href="/p/{rng.randint(100, 999)}">'
        f"Reader favourites</a></li></ul></aside>\n</main>\n"
        f"<footer><p>{rng.choice(FOOTERS)}</p><p>&copy; {site}</p></footer>\n</body>\n</html>\n"
    )


def _paragraphs_html(paragraphs: list[str]) -> str:
    return "\n".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)


# ---------------------------------------------------------------------------
# Web pages: English articles, duplicates, low-quality pages, Chinese pages


def _english_article(rng: random.Random, index: int) -> tuple[str, list[str]]:
    topic = list(TOPICS)[index % len(TOPICS)]
    nouns = TOPICS[topic]
    title = f"{rng.choice(ADJECTIVES).capitalize()} notes on {topic}: the {rng.choice(nouns)}"
    return title, _paragraphs(rng, nouns, rng.randint(6, 8))


def _near_duplicate(rng: random.Random, paragraphs: list[str]) -> list[str]:
    """Return the paragraphs with three words swapped and one sentence appended."""
    edited = list(paragraphs)
    for _ in range(3):
        index = rng.randrange(len(edited))
        words = edited[index].split(" ")
        position = rng.randrange(len(words))
        words[position] = rng.choice(ADJECTIVES)
        edited[index] = " ".join(words)
    edited[-1] += f" Updated in {rng.choice(MONTHS)} after a reader's comment."
    return edited


def _write_english_pages(web_dir: Path, rng: random.Random) -> int:
    written = 0
    for index in range(ENGLISH_ARTICLES):
        title, paragraphs = _english_article(rng, index)
        page = _page_html(title, _paragraphs_html(paragraphs), rng=rng).encode("utf-8")
        if index % GZIPPED_EVERY == GZIPPED_EVERY - 1:
            (web_dir / f"en-{index:02d}.html.gz").write_bytes(gzip.compress(page, mtime=0))
        else:
            (web_dir / f"en-{index:02d}.html").write_bytes(page)
        written += 1

        if index in NEAR_DUPLICATE_OF:
            # A second rng draw gives other navigation, sidebar and footer.
            edited = _near_duplicate(rng, paragraphs)
            copy = _page_html(title, _paragraphs_html(edited), rng=rng)
            (web_dir / f"en-{index:02d}-near-dup.html").write_text(copy, encoding="utf-8")
            written += 1
        if index in EXACT_DUPLICATE_OF:
            (web_dir / f"en-{index:02d}-exact-dup.html").write_bytes(page)
            written += 1
    return written


def _write_low_quality_pages(web_dir: Path, rng: random.Random) -> int:
    links = "\n".join(
        f'<li><a href="/section/{number}">{rng.choice(ADJECTIVES).capitalize()} deals {number}</a></li>'
        for number in range(60)
    )
    navigation_only = _page_html("Site map", f"<ul>{links}</ul>", rng=rng)
    spam_words = ["cheap", "best", "discount", "buy", "cheap", "offer", "best", "free"]
    spam = " ".join(rng.choice(spam_words) for _ in range(220))
    keyword_spam = _page_html("cheap best discount buy now", f"<p>{spam}</p>", rng=rng)
    too_short = _page_html("Coming soon", "<p>Coming soon.</p>", rng=rng)

    pages = {"nav": navigation_only, "spam": keyword_spam, "short": too_short}
    for kind, page in pages.items():
        (web_dir / f"low-quality-{kind}.html").write_text(page, encoding="utf-8")
    return len(pages)


ZH_PEOPLE = ["老师", "学生", "工程师", "农民", "医生", "记者", "司机", "厨师", "画家", "作家",
             "邻居", "朋友", "父亲", "母亲", "孩子们", "游客", "店主", "同学"]
ZH_PLACES = ["北京", "上海", "杭州", "成都", "西安", "广州", "南京", "武汉", "山上", "河边",
             "公园里", "图书馆", "学校", "市场", "村子里", "湖边", "火车站", "小镇上"]
ZH_TIMES = ["昨天", "今天早上", "上个星期", "去年春天", "每天晚上", "周末", "三月初", "秋天的时候",
            "前几天", "下午", "冬天", "新年前"]
ZH_THINGS = [("本", "书"), ("朵", "花"), ("棵", "树"), ("辆", "自行车"), ("个", "蛋糕"), ("幅", "画"),
             ("篇", "文章"), ("杯", "茶"), ("盘", "菜"), ("张", "照片"), ("封", "信"), ("双", "鞋")]
ZH_ACTIONS = ["买了", "看了", "带回了", "发现了", "准备了", "送来了", "整理了", "找到了"]
ZH_ADJECTIVES = ["很好看", "非常有意思", "特别安静", "比较干净", "有点复杂", "十分重要", "很便宜", "相当新鲜"]
ZH_WEATHER = ["很冷", "很热", "下着雨", "刮着大风", "很晴朗", "有点阴"]
ZH_TOPICS = ["城市生活", "读书笔记", "旅行见闻", "家常菜", "骑车日记", "老街故事"]
ZH_TEMPLATES = [
    "{time}，{person}在{place}{action}{count}{measure}{thing}。",
    "{person}说，{place}的{thing}{adjective}。",
    "大家都觉得这{measure}{thing}{adjective}，所以{person}决定{time}再去一次{place}。",
    "这件事让{person}想起了{time}在{place}的日子。",
    "虽然天气{weather}，但是{person}还是去了{place}。",
    "{place}一共有{count}{measure}{thing}，每一{measure}都{adjective}。",
    "{person}和{person2}{time}一起在{place}聊了很久。",
]
ZH_DIGITS = "一二三四五六七八九"


def _chinese_sentence(rng: random.Random) -> str:
    measure, thing = rng.choice(ZH_THINGS)
    person, person2 = rng.sample(ZH_PEOPLE, 2)
    return rng.choice(ZH_TEMPLATES).format(
        time=rng.choice(ZH_TIMES), person=person, person2=person2, place=rng.choice(ZH_PLACES),
        action=rng.choice(ZH_ACTIONS), count=rng.choice(ZH_DIGITS), measure=measure, thing=thing,
        adjective=rng.choice(ZH_ADJECTIVES), weather=rng.choice(ZH_WEATHER),
    )


def _write_chinese_pages(web_dir: Path, rng: random.Random) -> int:
    for index, encoding in enumerate(CHINESE_ENCODINGS):
        topic = ZH_TOPICS[index % len(ZH_TOPICS)]
        paragraphs = ["".join(_chinese_sentence(rng) for _ in range(rng.randint(8, 11)))
                      for _ in range(rng.randint(5, 7))]
        title = f"{topic}：{rng.choice(ZH_PLACES)}的{rng.choice(ZH_THINGS)[1]}"
        charset = "utf-8" if encoding == "utf8" else encoding
        page = _page_html(title, _paragraphs_html(paragraphs), rng=rng, lang="zh-CN", charset=charset)
        (web_dir / f"zh-{index:02d}-{encoding}.html").write_bytes(page.encode(charset))
    return len(CHINESE_ENCODINGS)


# ---------------------------------------------------------------------------
# Formulas: one small tree rendered as TeX and as presentation MathML
#
# A node is ("mi" | "mn" | "mo", text), ("row", [nodes]), ("sup", base, exponent),
# ("frac", numerator, denominator), ("sqrt", body) or ("bigop", symbol, lower, upper)
# for a sum or an integral with limits.


def _tex(node: tuple) -> str:
    kind = node[0]
    if kind in ("mi", "mn"):
        return node[1]
    if kind == "mo":
        return {"±": r"\pm", "·": r"\cdot"}.get(node[1], node[1])
    if kind == "row":
        return " ".join(_tex(child) for child in node[1])
    if kind == "sup":
        return f"{_tex(node[1])}^{{{_tex(node[2])}}}"
    if kind == "frac":
        return rf"\frac{{{_tex(node[1])}}}{{{_tex(node[2])}}}"
    if kind == "sqrt":
        return rf"\sqrt{{{_tex(node[1])}}}"
    if kind == "bigop":
        command = {"∑": r"\sum", "∫": r"\int"}[node[1]]
        return rf"{command}_{{{_tex(node[2])}}}^{{{_tex(node[3])}}}"
    raise ValueError(f"unknown formula node {kind!r}")


def _mathml(node: tuple) -> str:
    kind = node[0]
    if kind in ("mi", "mn", "mo"):
        return f"<{kind}>{html.escape(node[1])}</{kind}>"
    if kind == "row":
        return "<mrow>" + "".join(_mathml(child) for child in node[1]) + "</mrow>"
    if kind == "sup":
        return f"<msup>{_mathml(node[1])}{_mathml(node[2])}</msup>"
    if kind == "frac":
        return f"<mfrac>{_mathml(node[1])}{_mathml(node[2])}</mfrac>"
    if kind == "sqrt":
        return f"<msqrt>{_mathml(node[1])}</msqrt>"
    if kind == "bigop":
        # Sums stack their limits above and below, integrals set them to the side.
        element = "munderover" if node[1] == "∑" else "msubsup"
        return f"<{element}><mo>{node[1]}</mo>{_mathml(node[2])}{_mathml(node[3])}</{element}>"
    raise ValueError(f"unknown formula node {kind!r}")


def _row(*parts: tuple | str | int) -> tuple:
    """Build a row from nodes, numbers (mn), single letters (mi) and operators (mo)."""
    nodes = []
    for part in parts:
        if isinstance(part, tuple):
            nodes.append(part)
        elif isinstance(part, int):
            nodes.append(("mn", str(part)))
        elif part.isalpha():
            nodes.append(("mi", part))
        else:
            nodes.append(("mo", part))
    return ("row", nodes)


def _quadratic_problem(rng: random.Random) -> tuple[str, list[tuple[str, tuple]]]:
    root1, root2 = rng.sample(range(1, 13), 2)
    b, c = root1 + root2, root1 * root2
    steps = [
        ("Consider the equation", _row(("sup", ("mi", "x"), ("mn", "2")), "-", b, "x", "+", c, "=", 0)),
        ("The quadratic formula gives", _row("x", "=", ("frac", _row("-", "b", "±", ("sqrt", _row(
            ("sup", ("mi", "b"), ("mn", "2")), "-", 4, "a", "c"))), _row(2, "a")))),
        ("Here the discriminant is", _row(("sup", ("mn", str(b)), ("mn", "2")), "-", 4, "·", c, "=", b * b - 4 * c)),
        ("so the roots are", _row("x", "=", min(root1, root2), ",", "x", "=", max(root1, root2))),
    ]
    return "Solving a quadratic equation by factoring", steps


def _sum_problem(rng: random.Random) -> tuple[str, list[tuple[str, tuple]]]:
    n = rng.randint(10, 200)
    steps = [
        ("We want the sum", _row(("bigop", "∑", _row("k", "=", 1), ("mi", "n")), "k")),
        ("Pairing the first and last terms shows that", _row(
            ("bigop", "∑", _row("k", "=", 1), ("mi", "n")), "k", "=", ("frac", _row("n", "(", "n", "+", 1, ")"), ("mn", "2")))),
        ("With", _row("n", "=", n)),
        ("the total is", _row(("frac", _row(n, "·", n + 1), ("mn", "2")), "=", n * (n + 1) // 2)),
    ]
    return "The sum of the first n integers", steps


def _derivative_problem(rng: random.Random) -> tuple[str, list[tuple[str, tuple]]]:
    coefficient, power = rng.randint(2, 9), rng.randint(3, 8)
    steps = [
        ("Take the function", _row("f", "(", "x", ")", "=", coefficient, ("sup", ("mi", "x"), ("mn", str(power))))),
        ("The power rule states", _row(("frac", _row("d"), _row("d", "x")), ("sup", ("mi", "x"), ("mi", "n")), "=",
                                        "n", ("sup", ("mi", "x"), _row("n", "-", 1)))),
        ("Therefore", _row("f", "'", "(", "x", ")", "=", coefficient * power,
                           ("sup", ("mi", "x"), ("mn", str(power - 1))))),
    ]
    return "Differentiating a power of x", steps


def _pythagoras_problem(rng: random.Random) -> tuple[str, list[tuple[str, tuple]]]:
    base_triple = rng.choice([(3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25)])
    scale = rng.randint(1, 6)
    a, b, c = (side * scale for side in base_triple)
    steps = [
        ("For a right triangle with legs a and b", _row(("sup", ("mi", "a"), ("mn", "2")), "+",
                                                        ("sup", ("mi", "b"), ("mn", "2")), "=",
                                                        ("sup", ("mi", "c"), ("mn", "2")))),
        ("With the given legs", _row(("sup", ("mn", str(a)), ("mn", "2")), "+", ("sup", ("mn", str(b)), ("mn", "2")),
                                     "=", a * a + b * b)),
        ("so the hypotenuse is", _row("c", "=", ("sqrt", ("mn", str(a * a + b * b))), "=", c)),
    ]
    return "Finding the hypotenuse of a right triangle", steps


def _integral_problem(rng: random.Random) -> tuple[str, list[tuple[str, tuple]]]:
    upper = rng.randint(2, 9)
    steps = [
        ("Compute the area under the parabola", _row(("bigop", "∫", ("mn", "0"), ("mn", str(upper))),
                                                              ("sup", ("mi", "x"), ("mn", "2")), "d", "x")),
        ("An antiderivative of the integrand is", _row(("frac", ("sup", ("mi", "x"), ("mn", "3")), ("mn", "3")))),
        ("so the area equals", _row(("frac", ("sup", ("mn", str(upper)), ("mn", "3")), ("mn", "3")), "=",
                                    ("frac", ("mn", str(upper ** 3)), ("mn", "3")))),
    ]
    return "Area under a parabola", steps


MATH_PROBLEMS = [_quadratic_problem, _sum_problem, _derivative_problem, _pythagoras_problem, _integral_problem]
MATH_NOUNS = ["equation", "identity", "proof", "exercise", "textbook", "lecture", "worksheet",
              "problem set", "notation", "diagram", "example", "exam question"]


def _render_formula(node: tuple, style: str, display: bool) -> str:
    tex = _tex(node)
    if style == "mathjax2":
        mode = "; mode=display" if display else ""
        return f'<script type="math/tex{mode}">{tex}</script>'
    if style == "mathml":
        block = "block" if display else "inline"
        return (f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="{block}"><semantics>'
                f'{_mathml(node)}<annotation encoding="application/x-tex">{html.escape(tex)}</annotation>'
                "</semantics></math>")
    if style == "katex":
        return _katex_html(node, tex, display)
    if style in ("wechat", "wikipedia", "wp-katex", "latex-image"):
        return _rendered_formula(node, tex, style, display)
    return rf"\[{html.escape(tex)}\]" if display else rf"\({html.escape(tex)}\)"


def _rendered_formula(node: tuple, tex: str, style: str, display: bool) -> str:
    """Render a formula as WeChat, Wikipedia, WordPress KaTeX or a WordPress latex.php image does."""
    escaped = html.escape(tex)
    if style == "wechat":
        kind = "block-equation" if display else "inline-equation"
        return f'<span data-formula="{escaped}" data-formula-type="{kind}"><embed src="formula.svg"></span>'
    if style == "wikipedia":
        kind = "display" if display else "inline"
        return (f'<span class="mwe-math-element"><span class="mwe-math-mathml-{kind} mwe-math-mathml-a11y" '
                f'style="display: none;"><math xmlns="http://www.w3.org/1998/Math/MathML" alttext="{escaped}">'
                f'<semantics>{_mathml(node)}<annotation encoding="application/x-tex">{escaped}</annotation>'
                f'</semantics></math></span><img class="mwe-math-fallback-image-{kind}" alt="{escaped}" '
                'src="https://wikimedia.org/api/rest_v1/media/math/render/svg/0"></span>')
    if style == "wp-katex":
        return f'<span class="wp-katex-eq" data-display="{str(display).lower()}">{escaped}</span>'
    query = urllib.parse.quote(tex)
    return f'<img class="latex" alt="{escaped}" src="https://s0.wp.com/latex.php?latex={query}&amp;bg=ffffff&amp;s=0">'


def _katex_html(node: tuple, tex: str, display: bool) -> str:
    """Render KaTeX-style markup: hidden MathML with a TeX annotation plus visual spans."""
    mathml = (f'<span class="katex-mathml"><math xmlns="http://www.w3.org/1998/Math/MathML"><semantics>'
              f'{_mathml(node)}<annotation encoding="application/x-tex">{html.escape(tex)}</annotation>'
              "</semantics></math></span>")
    glyphs = "".join(f'<span class="mord">{html.escape(character)}</span>'
                     for character in tex if not character.isspace() and character not in "\\{}")
    katex = f'<span class="katex">{mathml}<span class="katex-html" aria-hidden="true">{glyphs}</span></span>'
    return f'<span class="katex-display">{katex}</span>' if display else katex


def _math_page(rng: random.Random, index: int, style: str) -> str:
    title, steps = MATH_PROBLEMS[index % len(MATH_PROBLEMS)](rng)
    parts = [f"<p>{html.escape(paragraph)}</p>" for paragraph in _paragraphs(rng, MATH_NOUNS, 2)]
    for step_number, (lead_in, node) in enumerate(steps):
        # Alternate: the lead-in ends with an inline formula, or a display formula follows it.
        if step_number % 2:
            parts.append(f"<p>{html.escape(lead_in)} {_render_formula(node, style, display=False)}.</p>")
        else:
            parts.append(f"<p>{html.escape(lead_in)}:</p>\n<p>{_render_formula(node, style, display=True)}</p>")
    parts.extend(f"<p>{html.escape(paragraph)}</p>" for paragraph in _paragraphs(rng, MATH_NOUNS, 2))

    head_extra = ""
    if style == "mathjax2":
        head_extra = '<script type="text/x-mathjax-config">MathJax.Hub.Config({tex2jax: {}});</script>\n'
    return _page_html(f"{title} ({index + 1})", "\n".join(parts), rng=rng, head_extra=head_extra)


def _write_math_pages(math_dir: Path, rng: random.Random) -> int:
    for index in range(MATH_PAGES):
        style = MATH_STYLES[index % len(MATH_STYLES)]
        page = _math_page(rng, index, style)
        (math_dir / f"math-{index:02d}-{style}.html").write_text(page, encoding="utf-8")
    return MATH_PAGES


# ---------------------------------------------------------------------------
# Python tutorials

CODE_NOUNS = ["function", "loop", "list", "dictionary", "test", "module", "argument", "variable",
              "generator", "class", "exception", "file"]
IDENTIFIERS = ["reading", "sample", "order", "record", "parcel", "sensor", "ticket", "station",
               "invoice", "score", "visit", "batch", "route", "shelf"]


def _program_moving_average(rng: random.Random) -> tuple[str, str]:
    name, window = rng.choice(IDENTIFIERS), rng.randint(3, 9)
    code = (
        f"def moving_average({name}s, window={window}):\n"
        f'    """Return the mean of each run of {window} consecutive {name}s."""\n'
        f"    if window < 1 or window > len({name}s):\n"
        f'        raise ValueError("window must be between 1 and the number of {name}s")\n'
        f"    averages = []\n"
        f"    total = sum({name}s[:window])\n"
        f"    averages.append(total / window)\n"
        f"    for index in range(window, len({name}s)):\n"
        f"        total += {name}s[index] - {name}s[index - window]\n"
        f"        averages.append(total / window)\n"
        f"    return averages\n"
    )
    return f"Computing a moving average of {name}s", code


def _program_counter(rng: random.Random) -> tuple[str, str]:
    name, limit = rng.choice(IDENTIFIERS), rng.randint(2, 20)
    code = (
        f"from collections import Counter\n\n\n"
        f"def frequent_{name}s(lines, min_count={limit}):\n"
        f"    counts = Counter()\n"
        f"    for line in lines:\n"
        f"        key = line.split(\",\")[0].strip()\n"
        f"        if key and not key.startswith(\"#\"):\n"
        f"            counts[key] += 1\n"
        f"    return {{key: n for key, n in counts.items() if n >= min_count}}\n"
    )
    return f"Counting {name}s in a CSV file", code


def _program_binary_search(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(IDENTIFIERS)
    code = (
        f"def find_{name}(sorted_{name}s, target):\n"
        f"    low, high = 0, len(sorted_{name}s) - 1\n"
        f"    while low <= high:\n"
        f"        middle = (low + high) // 2\n"
        f"        if sorted_{name}s[middle] < target:\n"
        f"            low = middle + 1\n"
        f"        elif sorted_{name}s[middle] > target:\n"
        f"            high = middle - 1\n"
        f"        else:\n"
        f"            return middle\n"
        f"    return -1\n"
    )
    return f"Binary search over sorted {name}s", code


def _program_class(rng: random.Random) -> tuple[str, str]:
    name, capacity = rng.choice(IDENTIFIERS), rng.randint(10, 500)
    class_name = name.capitalize() + "Queue"
    code = (
        f"class {class_name}:\n"
        f"    def __init__(self, capacity={capacity}):\n"
        f"        self.capacity = capacity\n"
        f"        self.items = []\n\n"
        f"    def push(self, {name}):\n"
        f"        if len(self.items) >= self.capacity:\n"
        f'            raise OverflowError("queue is full")\n'
        f"        self.items.append({name})\n\n"
        f"    def pop(self):\n"
        f"        return self.items.pop(0) if self.items else None\n"
    )
    return f"A bounded queue class for {name}s", code


def _program_generator(rng: random.Random) -> tuple[str, str]:
    name, size = rng.choice(IDENTIFIERS), rng.randint(4, 64)
    code = (
        f"def chunks({name}s, size={size}):\n"
        f"    batch = []\n"
        f"    for {name} in {name}s:\n"
        f"        batch.append({name})\n"
        f"        if len(batch) == size:\n"
        f"            yield batch\n"
        f"            batch = []\n"
        f"    if batch:\n"
        f"        yield batch\n"
    )
    return f"Splitting {name}s into chunks with a generator", code


def _program_memo(rng: random.Random) -> tuple[str, str]:
    steps = rng.randint(20, 90)
    code = (
        "from functools import lru_cache\n\n\n"
        "@lru_cache(maxsize=None)\n"
        "def ways_to_climb(steps):\n"
        "    if steps < 0:\n"
        "        return 0\n"
        "    if steps == 0:\n"
        "        return 1\n"
        "    return ways_to_climb(steps - 1) + ways_to_climb(steps - 2)\n\n\n"
        f"print(ways_to_climb({steps}))\n"
    )
    return f"Counting staircase paths for {steps} steps with memoisation", code


PROGRAMS = [_program_moving_average, _program_counter, _program_binary_search, _program_class,
            _program_generator, _program_memo]


def _code_block(code: str, language: str = "python") -> str:
    return f'<pre><code class="language-{language}">{html.escape(code)}</code></pre>'


def _highlighted_code_block(code: str, style: str) -> str:
    """Render code as a highlighter does: a table with a line-number gutter, or Pygments' div."""
    lines = code.rstrip("\n").split("\n")
    if style == "highlight-table":
        rows = "".join(
            f'<tr><td class="blob-num" data-line-number="{number}"></td>'
            f'<td class="blob-code"><span class="pl-k">{html.escape(line)}</span>\n</td></tr>'
            for number, line in enumerate(lines, start=1)
        )
        return f'<table class="highlight" data-lang="python">{rows}</table>'
    if style == "div-highlight":
        return f'<div class="highlight-python highlight"><pre><span></span>{html.escape(code)}</pre></div>'
    return _code_block(code)


def _code_page(rng: random.Random, index: int) -> str:
    title, code = PROGRAMS[index % len(PROGRAMS)](rng)
    _, second_code = PROGRAMS[(index + 3) % len(PROGRAMS)](rng)
    intro, middle, closing = (_paragraphs(rng, CODE_NOUNS, 1)[0] for _ in range(3))
    body = "\n".join([
        f"<p>{html.escape(intro)}</p>",
        "<p>The first version keeps everything in one <code>def</code> block:</p>",
        _code_block(code),
        f"<p>{html.escape(middle)}</p>",
        "<p>A related helper, shown with its call site:</p>",
        _highlighted_code_block(second_code, CODE_STYLES[index % len(CODE_STYLES)]),
        f"<p>{html.escape(closing)}</p>",
    ])
    return _page_html(f"Python tutorial: {title}", body, rng=rng)


def _write_code_pages(code_dir: Path, rng: random.Random) -> int:
    for index in range(CODE_PAGES):
        (code_dir / f"code-{index:02d}.html").write_text(_code_page(rng, index), encoding="utf-8")
    return CODE_PAGES


# ---------------------------------------------------------------------------
# WARC crawl


def _record_id(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


def _warc_headers(rng: random.Random) -> dict[str, str]:
    return {"WARC-Record-ID": _record_id(rng), "WARC-Date": FIXED_WARC_DATE}


def _write_response(writer: WARCWriter, rng: random.Random, url: str, body: bytes,
                    content_type: str, extra_headers: tuple[tuple[str, str], ...] = ()) -> None:
    headers = [("Date", FIXED_HTTP_DATE), ("Content-Type", content_type), *extra_headers,
               ("Content-Length", str(len(body)))]
    http_headers = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
    record = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                       http_headers=http_headers, warc_headers_dict=_warc_headers(rng))
    writer.write_record(record)


def _crawl_pages(rng: random.Random) -> list[tuple[str, str]]:
    """Return (URL, page) pairs for the HTML responses of the crawl."""
    pages = []
    for number in range(WARC_PAGES["web"]):
        title, paragraphs = _english_article(rng, number + 5)
        pages.append((f"http://notes.example.org/post/{number + 1}",
                      _page_html(title, _paragraphs_html(paragraphs), rng=rng)))
    for number in range(WARC_PAGES["math"]):
        style = MATH_STYLES[number % len(MATH_STYLES)]
        pages.append((f"http://maths.example.org/worked/{number + 1}", _math_page(rng, number + 1, style)))
    for number in range(WARC_PAGES["code"]):
        pages.append((f"http://code.example.org/tutorial/{number + 1}", _code_page(rng, number + 2)))
    return pages


def _write_warc(path: Path, rng: random.Random) -> dict[str, int]:
    pages = _crawl_pages(rng)
    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        info = b"software: mimo_data sample corpus\r\nformat: WARC File Format 1.0\r\n"
        warcinfo = writer.create_warc_record("", "warcinfo", payload=io.BytesIO(info),
                                             warc_content_type="application/warc-fields",
                                             warc_headers_dict=_warc_headers(rng))
        writer.write_record(warcinfo)

        request_headers = StatusAndHeaders("GET /post/1 HTTP/1.1", [("Host", "notes.example.org")],
                                           is_http_request=True)
        request = writer.create_warc_record(pages[0][0], "request", http_headers=request_headers,
                                            warc_headers_dict=_warc_headers(rng))
        writer.write_record(request)

        for number, (url, page) in enumerate(pages):
            body = page.encode("utf-8")
            if number == 1:
                # One gzip Content-Encoding, as servers send it, that readers must decode.
                _write_response(writer, rng, url, gzip.compress(body, mtime=0), "text/html; charset=utf-8",
                                (("Content-Encoding", "gzip"),))
            else:
                _write_response(writer, rng, url, body, "text/html; charset=utf-8")

        feed = json.dumps({"posts": [url for url, _ in pages]}).encode("utf-8")
        _write_response(writer, rng, "http://notes.example.org/feed.json", feed, "application/json")
    return {"warc_html_responses": len(pages), "warc_other_records": 3}


# ---------------------------------------------------------------------------
# PDFs

PDF_FORMULAS = [
    "x^2 - {b}x + {c} = 0 has the roots x = {r1} and x = {r2}.",
    "The area of a circle of radius r is A = pi * r^2, so r = {r} gives A = {area:.2f}.",
    "sum_(k=1)^n k = n(n + 1)/2, so the first {n} integers add up to {total}.",
    "d/dx (x^{p}) = {p} x^{pm1}.",
]


def _formula_lines(rng: random.Random) -> list[str]:
    r1, r2 = rng.sample(range(1, 10), 2)
    radius, n, power = rng.randint(2, 9), rng.randint(10, 99), rng.randint(3, 9)
    values = dict(b=r1 + r2, c=r1 * r2, r1=min(r1, r2), r2=max(r1, r2), r=radius,
                  area=3.14159265 * radius ** 2, n=n, total=n * (n + 1) // 2, p=power, pm1=power - 1)
    return [template.format(**values) for template in PDF_FORMULAS]


def _new_pdf() -> pymupdf.Document:
    document = pymupdf.open()
    document.set_metadata({"title": "mimo_data sample", "author": "mimo_data", "creator": "mimo_data",
                           "producer": "mimo_data", "creationDate": FIXED_PDF_DATE, "modDate": FIXED_PDF_DATE})
    return document


def _save_pdf(document: pymupdf.Document, path: Path) -> None:
    # no_new_id keeps the trailer /ID fixed, so the file bytes depend on the seed only.
    document.save(str(path), garbage=3, deflate=True, no_new_id=True)
    document.close()


def _write_formula_pdf(path: Path, rng: random.Random) -> None:
    document = _new_pdf()
    page = document.new_page()
    page.insert_text((72, 80), "Worked formulas", fontname="helv", fontsize=16)
    prose = " ".join(_sentence(rng, MATH_NOUNS) for _ in range(4))
    lines = [prose, ""] + _formula_lines(rng)
    page.insert_textbox(pymupdf.Rect(72, 100, 540, 760), "\n".join(lines), fontname="helv", fontsize=11)
    _save_pdf(document, path)


def _write_code_pdf(path: Path, rng: random.Random) -> None:
    document = _new_pdf()
    page = document.new_page()
    title, code = _program_binary_search(rng)
    page.insert_text((72, 80), f"Listing 1: {title}", fontname="helv", fontsize=14)
    prose = " ".join(_sentence(rng, CODE_NOUNS) for _ in range(5))
    page.insert_textbox(pymupdf.Rect(72, 95, 540, 230), prose, fontname="helv", fontsize=11)
    # One insert_text per line keeps the leading spaces of each code line.
    for line_number, line in enumerate(code.splitlines()):
        page.insert_text((72, 250 + 13 * line_number), line, fontname="cour", fontsize=10)
    _save_pdf(document, path)


# ---------------------------------------------------------------------------
# Synthetic question and response pairs

ITEMS = ["apples", "notebooks", "tickets", "bricks", "stamps", "marbles", "tiles", "seeds"]


def _math_response(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(3)
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    if kind == 0:
        boxes, per_box, given = rng.randint(3, 12), rng.randint(4, 25), rng.randint(1, 30)
        total = boxes * per_box
        question = (f"{name} has {boxes} boxes with {per_box} {item} in each box and gives away {given} {item}. "
                    f"How many {item} are left?")
        response = (f"First find the total: {boxes} x {per_box} = {total} {item}.\n"
                    f"Then subtract the ones given away: {total} - {given} = {total - given}.\n"
                    f"The answer is {total - given}.")
    elif kind == 1:
        slope, solution, offset = rng.randint(2, 9), rng.randint(-12, 15), rng.randint(1, 40)
        right = slope * solution + offset
        question = f"Solve for x: {slope}x + {offset} = {right}."
        response = (f"Subtract {offset} from both sides: {slope}x = {right - offset}.\n"
                    f"Divide both sides by {slope}: x = {solution}.\n"
                    f"Check: {slope} * {solution} + {offset} = {right}. The answer is x = {solution}.")
    else:
        width, height = rng.randint(3, 40), rng.randint(3, 40)
        question = f"A rectangle is {width} m wide and {height} m long. What are its area and perimeter?"
        response = (f"Area = width x length = {width} x {height} = {width * height} square metres.\n"
                    f"Perimeter = 2 x (width + length) = 2 x ({width} + {height}) = {2 * (width + height)} m.\n"
                    f"The area is {width * height} m^2 and the perimeter is {2 * (width + height)} m.")
    plan = (f"We read the question carefully, write down what is given and what is asked, and work one step "
            f"at a time so that every intermediate number can be checked. {_sentence(rng, MATH_NOUNS)}\n\n")
    check = ("\n\nFinally we check the result against the numbers in the question: substituting it back gives "
             "the values we started from, so the answer is consistent.")
    return question, plan + response + check


def _code_response(rng: random.Random) -> tuple[str, str]:
    title, code = rng.choice(PROGRAMS)(rng)
    question = f"Write a Python program for this task: {title.lower()}. Explain how it works."
    explanation = " ".join(_sentence(rng, CODE_NOUNS) for _ in range(2))
    response = f"Here is one way to do it:\n\n```python\n{code}```\n\n{explanation}"
    return question, response


def _write_synthetic(path: Path, rng: random.Random) -> int:
    makers = [_math_response] * SYNTHETIC_MATH + [_code_response] * SYNTHETIC_CODE
    rng.shuffle(makers)
    with open(path, "w", encoding="utf-8", newline="\n") as stream:
        for number, make in enumerate(makers):
            question, response = make(rng)
            record = {"id": f"synthetic-{number:03d}", "question": question, "response": response,
                      "text": f"{question}\n\n{response}"}
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(makers)


# ---------------------------------------------------------------------------
# Entry point


def write_sample_corpus(out_dir: str | Path, *, seed: int = 0) -> dict[str, int]:
    """Write the demo corpus and return counts per kind of file.

    The keys are ``web_html`` (files in ``web/``), ``math_html``, ``code_html``,
    ``warc_files``, ``warc_html_responses``, ``warc_other_records`` (warcinfo,
    request and a JSON response), ``pdf_files`` and ``synthetic_responses``
    (lines of ``synthetic/responses.jsonl``). Files of the same names are
    overwritten; other files in ``out_dir`` are left alone.
    """
    out = Path(out_dir)
    folders = {name: out / name for name in ("web", "math", "code", "pdf", "synthetic")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)

    # One generator per part, so that changing one part leaves the others' bytes alone.
    # random.seed hashes a str seed with SHA-512, so PYTHONHASHSEED does not matter.
    def part_rng(part: str) -> random.Random:
        return random.Random(f"{seed}:{part}")

    counts = {
        "web_html": _write_english_pages(folders["web"], part_rng("english"))
        + _write_low_quality_pages(folders["web"], part_rng("low-quality"))
        + _write_chinese_pages(folders["web"], part_rng("chinese")),
        "math_html": _write_math_pages(folders["math"], part_rng("math")),
        "code_html": _write_code_pages(folders["code"], part_rng("code")),
        "warc_files": 1,
    }
    counts.update(_write_warc(out / "crawl.warc.gz", part_rng("warc")))
    _write_formula_pdf(folders["pdf"] / "formulas.pdf", part_rng("pdf-formulas"))
    _write_code_pdf(folders["pdf"] / "code-listing.pdf", part_rng("pdf-code"))
    counts["pdf_files"] = 2
    counts["synthetic_responses"] = _write_synthetic(folders["synthetic"] / "responses.jsonl", part_rng("synthetic"))
    logger.info("wrote sample corpus to %s: %s", out, counts)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the mimo_data demo corpus.")
    parser.add_argument("out_dir", help="folder to write into; created when missing")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    arguments = parser.parse_args(argv)
    counts = write_sample_corpus(arguments.out_dir, seed=arguments.seed)
    print(json.dumps(counts, indent=2))


if __name__ == "__main__":
    main()
