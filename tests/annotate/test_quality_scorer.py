"""QualityScorer: heuristic score on real reasoning traces and spam, and the fastText path."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from mimo_data.annotate.language import lid_model_path
from mimo_data.annotate.quality import QualityScorer, write_quality_training_file
from mimo_data.document import documents_from_rows, mark_dropped

NAVIGATION = "Home | About us | Products | Blog | Contact | Login | Register | Cart (0)"
PROMOTIONS = [
    "BUY NOW!!! Best prices guaranteed ★★★★★",
    "Click here to get 90% OFF today only",
    "Free shipping on all orders >>> SHOP NOW",
    "Limited offer!!! Subscribe to our newsletter",
]
FOOTER = "Copyright © 2024 All rights reserved | Privacy Policy | Terms of Service | Sitemap"


def _table(texts: list[str | None]) -> pa.Table:
    rows = [
        {"id": f"doc-{index}", "source": "test", "format": "html", "text": text}
        for index, text in enumerate(texts)
    ]
    return documents_from_rows(rows)


def _reasoning_texts(shared_dir) -> list[str]:
    folder = shared_dir / "reasoning"
    texts = []
    with open(folder / "qwen25math_math_cot_100x8.jsonl", encoding="utf-8") as lines:
        for _, line in zip(range(20), lines):
            texts.append(json.loads(line)["response"][0])
    with open(folder / "deepseekmath_v2_IMO2025.jsonl", encoding="utf-8") as lines:
        texts.extend(json.loads(line)["model_prediction"]["proof"] for line in lines)
    return texts


def _spam_pages() -> list[str]:
    pages = []
    for repeat in (3, 10, 30):
        body = "\n".join(PROMOTIONS * repeat)
        pages.append(f"{NAVIGATION}\n{body}\n{FOOTER}")
    pages.append("\n".join([NAVIGATION] * 5 + [FOOTER] * 5))
    return pages


def test_reasoning_outscores_spam(shared_dir):
    reasoning = _reasoning_texts(shared_dir)
    assert len(reasoning) >= 25
    scorer = QualityScorer()
    reasoning_scores = scorer(_table(reasoning)).column("quality").to_pylist()
    spam_scores = scorer(_table(_spam_pages())).column("quality").to_pylist()
    assert min(reasoning_scores) > max(spam_scores)
    assert sum(reasoning_scores) / len(reasoning_scores) > 0.5
    assert max(spam_scores) < 0.2


def test_scores_in_unit_interval_and_nulls():
    table = _table(["A short line.", "Plain text that no one dropped. " * 40, None])
    table = mark_dropped(table, ["too_short", None, None], step="heuristics")
    out = QualityScorer()(table)
    assert out.schema.field("quality").type == pa.float32()
    scores = out.column("quality").to_pylist()
    assert scores[0] is None
    assert 0.0 <= scores[1] <= 1.0
    assert scores[2] == 0.0


def test_fasttext_model_probability(shared_dir):
    # lid.176 is a real fastText supervised model, so it serves as a stand-in classifier
    # whose "positive" label is English.
    scorer = QualityScorer(model_path=lid_model_path(), positive_label="__label__en")
    english = (shared_dir / "text" / "peps" / "pep-0020.rst").read_text("utf-8")
    zh_folder = shared_dir / "corpus" / "html_zh"
    chinese_path = zh_folder / "newspaper4k__chinese_article_001.expected.txt"
    chinese = chinese_path.read_text("utf-8")
    scores = scorer(_table([english, chinese])).column("quality").to_pylist()
    assert scores[0] > 0.5
    assert scores[1] < 0.05


def test_fasttext_model_missing_label():
    scorer = QualityScorer(model_path=lid_model_path())
    with pytest.raises(ValueError, match="__label__hq"):
        scorer(_table(["Some text to score."]))


def test_invalid_model_path_names_field(tmp_path):
    with pytest.raises(ValueError, match="model_path"):
        QualityScorer(model_path=str(tmp_path / "missing.bin"))


def test_training_file_labels_and_seed(tmp_path):
    positive = ["First good\ntext.", "Second good text.", "   "]
    negative = ["Spam spam\tspam."]
    first = tmp_path / "first.txt"
    second = tmp_path / "second.txt"
    assert write_quality_training_file(positive, negative, first, seed=7) == 3
    write_quality_training_file(positive, negative, second, seed=7)
    lines = first.read_text("utf-8").splitlines()
    assert sorted(lines) == [
        "__label__hq First good text.",
        "__label__hq Second good text.",
        "__label__lq Spam spam spam.",
    ]
    assert second.read_text("utf-8") == first.read_text("utf-8")
