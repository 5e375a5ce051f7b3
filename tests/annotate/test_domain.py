"""Domain tags, reasoning density and the retention of real math and code pages."""

from __future__ import annotations

import pyarrow as pa

from mimo_data.annotate.domain import DomainFilter, DomainTagger, reasoning_signals, rule_label, train_domain_model
from mimo_data.annotate.heuristics import HeuristicFilter, compute_signals
from mimo_data.document import documents_from_rows


def _table(texts, urls=None):
    urls = urls or [None] * len(texts)
    rows = [{"id": str(i), "source": "s", "format": "jsonl", "text": t, "url": u, "domain": "web"} for i, (t, u) in enumerate(zip(texts, urls))]
    return documents_from_rows(rows)


def test_math_code_retention(math_code_pages):
    heuristic_filter = HeuristicFilter()
    kept = [heuristic_filter.drop_reason(page["text"], compute_signals(page["text"])) is None for page in math_code_pages]
    assert len(kept) >= 50
    assert sum(kept) / len(kept) >= 0.95


def test_reasoning_density_counts():
    text = "We have $x = 2$. Therefore $x^2 = 4$.\n```python\nprint(4)\nprint(5)\n```\n" + "word " * 96
    values = reasoning_signals(text, n_words=100)
    assert values["formulas_per_1k_words"] == 20.0
    assert values["code_lines_per_1k_words"] == 20.0
    assert values["derivation_steps_per_1k_words"] == 20.0
    assert values["reasoning_density"] == 60.0


def test_rule_tags_by_url_and_markup():
    job = "We are hiring. Salary is competitive. Responsibilities include support. Apply now with your resume."
    assert rule_label(job, "https://example.com/careers/42") == "jobs"
    derivation = " ".join(f"Hence $a_{i} = {i}$ and $b_{i} > 0$." for i in range(20))
    assert rule_label(derivation, None) == "math"
    assert rule_label("A quiet afternoon walk along the canal with friends and a dog.", None) is None


def test_tagger_keeps_source_domain():
    out = DomainTagger()(_table(["Hence $x=1$ and $y=2$, thus $x+y=3$."] * 2))
    assert out.column("domain").to_pylist() == ["web", "web"]
    assert out.column("domain_tag").to_pylist() == ["math", "math"]
    assert out.schema.field("reasoning_density").type == pa.float32()


def test_domain_filter_drops_tags():
    table = DomainTagger()(_table(["Buy now! Discount price, free shipping, order now, cheap sale coupon."], ["https://shop.example.com/cart"]))
    out = DomainFilter(drop_tags=["ads"])(table)
    assert out.column("drop_reason").to_pylist() == ["domain_ads"]


def test_model_tags_when_rules_unsure(math_code_pages, tmp_path):
    documents = [(page["text"], page["url"]) for page in math_code_pages]
    model = tmp_path / "domain.bin"
    counts = train_domain_model(documents, model)
    assert {"__label__math", "__label__code"} <= set(counts)

    tagger = DomainTagger(model_path=str(model), min_rule_score=100.0, min_model_prob=0.0)
    values = tagger.tag("A page of plain words that no rule reaches.", None)
    assert values["domain_tag_method"] == "model"
    assert values["domain_tag"] in {label.removeprefix("__label__") for label in counts}
