"""Domain tags and the reasoning density of a document.

Two kinds of attributes, both computed on kept documents only:

* ``reasoning_density``: formulas, code lines and derivation steps per 1,000 words, the sum
  of ``formulas_per_1k_words``, ``code_lines_per_1k_words`` and
  ``derivation_steps_per_1k_words``. A derivation step is one occurrence of a connective
  such as "therefore", "hence", "it follows", "因此" or "所以", or of an implication arrow.
* ``domain_tag``: one of :data:`DOMAIN_TAGS`. Transparent rules score each tag from URL
  patterns, keywords per 1,000 words and the density of math and code. The best tag wins
  when its score reaches ``min_rule_score``. Otherwise a fastText classifier trained on the
  rule labels (:func:`train_domain_model`) decides, when one is configured, and the tag is
  "other" when neither is confident. The classifier reads :func:`model_text`: lower-cased
  prose words without URLs, markup, formulas or code, so it cannot learn the URL and markup
  signals of the rules and must tag from vocabulary alone. ``domain_tag_score`` is the winning rule score's share
  of all rule scores, or the model's probability; ``domain_tag_method`` is "rules",
  "model" or "none".

The ``domain`` column (the source's mixture domain from the pipeline YAML) is left alone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import fasttext
import pyarrow as pa

from mimo_data.annotate.fasttext_train import LABEL_PREFIX, FastTextTrainConfig, train_classifier
from mimo_data.annotate.heuristics import split_words
from mimo_data.annotate.markup import CJK_RANGES, count_markup, split_markup
from mimo_data.document import kept_mask, mark_dropped, set_column

logger = logging.getLogger(__name__)

DOMAIN_TAGS = ("math", "code", "stem", "knowledge", "news", "ads", "jobs", "forum", "other")
OTHER = "other"

REASONING_COLUMNS = (
    "formulas_per_1k_words",
    "code_lines_per_1k_words",
    "derivation_steps_per_1k_words",
    "reasoning_density",
)

_DERIVATION_PATTERN = re.compile(
    r"\b(?:therefore|thus|hence|consequently|it follows|implies|we get|we obtain|we have|"
    r"substituting|solving for|step \d+|q\.e\.d|without loss of generality)\b"
    r"|因此|所以|于是|从而|可得|得到|⇒|⟹|⇔|∴|=>",
    re.IGNORECASE,
)

# Host and path patterns per tag; one match adds URL_WEIGHT to the tag's score.
_URL_RULES = {
    "math": r"math|wolfram|/algebra|/calculus|/geometry|artofproblemsolving|proofwiki",
    "code": r"github\.com|gitlab|stackoverflow|readthedocs|/docs?/|developer\.|/api/|/tutorials?/|cppreference|python\.org|webkit\.org",
    "stem": r"arxiv\.org|\.edu/|nature\.com|sciencedirect|/science|physics|chemistry|biology|nasa\.gov|nih\.gov",
    "knowledge": r"wikipedia\.org|britannica|/wiki/|encyclopedia|baike",
    "news": r"news|reuters|bbc\.|cnn\.|nytimes|theguardian|xinhua|/20\d\d/\d\d/",
    "ads": r"shop|store|/products?/|/cart|deals|coupon|amazon\.|ebay\.|taobao|jd\.com",
    "jobs": r"/jobs?\b|careers?|/hiring|indeed\.|glassdoor|zhaopin",
    "forum": r"forum|/threads?/|/topic|bbs|reddit\.com|discourse|stackexchange|/questions/|tieba|zhihu",
}
_URL_PATTERNS = {tag: re.compile(pattern, re.IGNORECASE) for tag, pattern in _URL_RULES.items()}
URL_WEIGHT = 2.0

# Keywords per tag; each match per 1,000 words adds 1 / KEYWORDS_PER_POINT to the score.
_KEYWORD_RULES = {
    "math": r"theorem|lemma|proof|equation|integer|polynomial|derivative|integral|prime number|定理|证明|方程",
    "code": r"\bfunction\b|\bvariable|\bcompile|\breturns?\b|\bimport\b|\bclass\b|\barray\b|函数|代码|编程",
    "stem": r"experiment|molecule|energy|\bcells?\b|species|hypothesis|physics|quantum|protein|实验|分子|能量",
    "knowledge": r"\bborn\b|century|history|known as|refers to|located in|位于|历史|世纪",
    "news": r"\bsaid\b|reported|according to|spokes(?:man|woman|person)|announced|记者|报道|新华社",
    "ads": r"\bbuy\b|price|discount|offer|free shipping|order now|\bsale\b|coupon|\bcheap\b|优惠|价格|购买",
    "jobs": r"salary|apply now|responsibilities|qualifications|candidate|full-time|resume|招聘|薪资|岗位",
    "forum": r"\breply\b|\breplies\b|posted by|\bquote\b|registered|joined|thanks in advance|回复|楼主|帖子",
}
_KEYWORD_PATTERNS = {tag: re.compile(pattern, re.IGNORECASE) for tag, pattern in _KEYWORD_RULES.items()}
# Chosen on the real news, code, math and multilingual test pages of this project: at 8,
# about 40% of news articles reach one point on keywords alone and under 5% of the
# multilingual general pages are tagged by keywords; 5 tagged many general pages as news.
KEYWORDS_PER_POINT = 8.0
# Formulas per 1,000 words at which the math score gains one point, and code lines per
# 1,000 words for one code point; both are capped at MARKUP_POINTS_MAX.
FORMULAS_PER_POINT = 20.0
CODE_LINES_PER_POINT = 40.0
MARKUP_POINTS_MAX = 3.0

# Tokens the domain model reads: each CJK ideograph or kana, runs of letters, runs of digits.
# Punctuation is left out so that "proof," and "proof" are one word to fastText.
_MODEL_TOKEN_PATTERN = re.compile(rf"[{CJK_RANGES}]|[^\W\d_]+|\d+")
# HTML tags, Markdown link targets and bare URLs: they repeat the URL signal of the rules.
_MODEL_SKIPPED_PATTERN = re.compile(r"<[^<>]*>|\]\([^()\s]*\)|\bhttps?://\S+")
# Training documents are cut into chunks of this many model tokens, each with the document's
# rule label. Chosen on a held-out split of real news, math and code documents: training on
# whole documents tagged 20 of 42 news articles right, 300-token chunks 40 of 42.
CHUNK_WORDS = 300
# Model tokens read per document at prediction time, which bounds the cost of very long pages.
MAX_MODEL_WORDS = 2000


@dataclass(kw_only=True)
class DomainTaggerConfig:
    """Settings of :class:`DomainTagger`."""

    # Rule score at or above which the best rule tag is used without the model.
    min_rule_score: float = 1.0
    # fastText domain model (trained by :func:`train_domain_model`); None uses rules only.
    model_path: str | None = None
    # Model probability at or above which the model's tag is used.
    min_model_prob: float = 0.5

    def __post_init__(self) -> None:
        if self.min_rule_score <= 0:
            raise ValueError(f"DomainTaggerConfig.min_rule_score must be positive, got {self.min_rule_score!r}")
        if not 0.0 <= self.min_model_prob <= 1.0:
            raise ValueError(f"DomainTaggerConfig.min_model_prob must be in [0, 1], got {self.min_model_prob!r}")
        if self.model_path is not None and not Path(self.model_path).is_file():
            raise ValueError(
                f"DomainTaggerConfig.model_path must be an existing fastText model file, "
                f"got {self.model_path!r}, which is not a file"
            )


def reasoning_signals(text: str, n_words: int | None = None) -> dict[str, float]:
    """Return the per-1k-word densities of :data:`REASONING_COLUMNS` for one document."""
    if n_words is None:
        n_words = len(split_words(text))
    counts = count_markup(text)
    steps = len(_DERIVATION_PATTERN.findall(split_markup(text).prose))
    per_1k = 1000.0 / max(n_words, 1)
    values = {
        "formulas_per_1k_words": counts.formulas * per_1k,
        "code_lines_per_1k_words": counts.code_lines * per_1k,
        "derivation_steps_per_1k_words": steps * per_1k,
    }
    values["reasoning_density"] = sum(values.values())
    return values


def model_text(text: str, *, max_words: int | None = MAX_MODEL_WORDS) -> str:
    """Return the lower-cased prose tokens of ``text`` that the domain model reads, on one line.

    Code, math, HTML tags and URLs are removed, so the model reads none of the URL and markup
    signals that the rules score, and a page stripped of its markup gives the same text.
    """
    prose = _MODEL_SKIPPED_PATTERN.sub(" ", split_markup(text).prose)
    tokens = _MODEL_TOKEN_PATTERN.findall(prose.lower())
    return " ".join(tokens if max_words is None else tokens[:max_words])


def rule_scores(text: str, url: str | None, reasoning: dict[str, float], n_words: int) -> dict[str, float]:
    """Score every tag but "other" from the URL, keywords and math and code densities."""
    prose = split_markup(text).prose
    per_1k = 1000.0 / max(n_words, 1)
    scores = {}
    for tag, pattern in _KEYWORD_PATTERNS.items():
        keyword_points = min(MARKUP_POINTS_MAX, len(pattern.findall(prose)) * per_1k / KEYWORDS_PER_POINT)
        url_points = URL_WEIGHT if url and _URL_PATTERNS[tag].search(url) else 0.0
        scores[tag] = keyword_points + url_points
    scores["math"] += min(MARKUP_POINTS_MAX, reasoning["formulas_per_1k_words"] / FORMULAS_PER_POINT)
    scores["code"] += min(MARKUP_POINTS_MAX, reasoning["code_lines_per_1k_words"] / CODE_LINES_PER_POINT)
    return scores


def best_rule_tag(scores: dict[str, float]) -> tuple[str, float, float]:
    """Return the best tag, its score and its share of all scores (ties go to the earlier tag)."""
    tag = max(DOMAIN_TAGS[:-1], key=lambda name: scores[name])
    total = sum(scores.values())
    return tag, scores[tag], scores[tag] / total if total else 0.0


class DomainTagger:
    """Append ``domain_tag``, ``domain_tag_score``, ``domain_tag_method`` and the reasoning columns.

    Reuses the ``n_words`` column when present. Dropped rows and rows with null text get
    null in every new column.
    """

    def __init__(self, **fields) -> None:
        self.config = DomainTaggerConfig(**fields)
        self._model = None
        if self.config.model_path is not None:
            self._model = fasttext.load_model(self.config.model_path)
            logger.info("loaded domain model %s", self.config.model_path)

    def __call__(self, table: pa.Table) -> pa.Table:
        keep = kept_mask(table).to_pylist()
        texts = table.column("text").to_pylist()
        urls = table.column("url").to_pylist()
        n_words = table.column("n_words").to_pylist() if "n_words" in table.column_names else [None] * table.num_rows

        names = ("domain_tag", "domain_tag_score", "domain_tag_method") + REASONING_COLUMNS
        columns: dict[str, list] = {name: [] for name in names}
        for is_kept, text, url, words in zip(keep, texts, urls, n_words):
            values = self.tag(text, url, words) if is_kept and text is not None else dict.fromkeys(names)
            for name in names:
                columns[name].append(values[name])

        for name in ("domain_tag", "domain_tag_method"):
            table = set_column(table, name, pa.array(columns[name], pa.string()))
        for name in ("domain_tag_score",) + REASONING_COLUMNS:
            table = set_column(table, name, pa.array(columns[name], pa.float32()))
        return table

    def tag(self, text: str, url: str | None, n_words: int | None = None) -> dict:
        """Return the domain and reasoning values of one document."""
        if n_words is None:
            n_words = len(split_words(text))
        reasoning = reasoning_signals(text, n_words)
        tag, score, share = best_rule_tag(rule_scores(text, url, reasoning, n_words))
        values = {"domain_tag": tag, "domain_tag_score": share, "domain_tag_method": "rules", **reasoning}
        if score >= self.config.min_rule_score:
            return values

        values.update(domain_tag=OTHER, domain_tag_score=0.0, domain_tag_method="none")
        if self._model is not None:
            labels, probabilities = self._model.predict(model_text(text), k=1)
            if labels and float(probabilities[0]) >= self.config.min_model_prob:
                values.update(
                    domain_tag=labels[0].removeprefix(LABEL_PREFIX),
                    domain_tag_score=min(1.0, float(probabilities[0])),
                    domain_tag_method="model",
                )
        return values


def rule_label(text: str, url: str | None, *, min_rule_score: float = 1.0) -> str | None:
    """Return the rule tag of one document, or None when no rule tag is confident."""
    n_words = len(split_words(text))
    reasoning = reasoning_signals(text, n_words)
    tag, score, _ = best_rule_tag(rule_scores(text, url, reasoning, n_words))
    return tag if score >= min_rule_score else None


def train_domain_model(
    documents: Iterable[tuple[str, str | None]],
    out_path: str | Path,
    *,
    config: FastTextTrainConfig | None = None,
    min_rule_score: float = 1.0,
) -> dict[str, int]:
    """Train a fastText domain classifier on the rule labels of ``(text, url)`` pairs.

    Documents without a confident rule tag are left out. Each labelled document becomes
    chunks of :data:`CHUNK_WORDS` tokens of :func:`model_text`, so the model learns the
    words that go with each tag, never the URL or markup that set the label. It can then
    tag pages whose URL and markup give the rules nothing to go on. Returns training lines
    (chunks) per label.
    """
    examples = []
    for text, url in documents:
        label = rule_label(text, url, min_rule_score=min_rule_score)
        if label is None:
            continue
        tokens = model_text(text, max_words=None).split()
        for start in range(0, len(tokens), CHUNK_WORDS):
            examples.append((label, " ".join(tokens[start : start + CHUNK_WORDS])))
    return train_classifier(examples, out_path, config=config)


class DomainFilter:
    """Drop kept documents by domain tag or low reasoning density.

    Reasons: "domain_<tag>" for a tag in ``drop_tags``, and "reasoning_density_low" below
    ``min_reasoning_density``. Drops are recorded under ``step``, which the pipeline's
    accounting lists right after "quality".
    """

    def __init__(self, *, drop_tags: list[str] | tuple = (), min_reasoning_density: float = 0.0,
                 step: str = "domain") -> None:
        unknown = sorted(set(drop_tags) - set(DOMAIN_TAGS))
        if unknown:
            raise ValueError(f"DomainFilter drop_tags has unknown tags {unknown}; allowed: {', '.join(DOMAIN_TAGS)}")
        self.drop_tags = set(drop_tags)
        self.min_reasoning_density = min_reasoning_density
        self.step = step

    def __call__(self, table: pa.Table) -> pa.Table:
        reasons = []
        for is_kept, tag, density in zip(
            kept_mask(table).to_pylist(),
            table.column("domain_tag").to_pylist(),
            table.column("reasoning_density").to_pylist(),
        ):
            if not is_kept:
                reasons.append(None)
            elif tag in self.drop_tags:
                reasons.append(f"domain_{tag}")
            elif (density or 0.0) < self.min_reasoning_density:
                reasons.append("reasoning_density_low")
            else:
                reasons.append(None)
        return mark_dropped(table, reasons, step=self.step)
