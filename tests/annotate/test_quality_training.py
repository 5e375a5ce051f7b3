"""Training fastText quality and domain models, and the `mimo-data quality` commands."""

from __future__ import annotations

import json

import pytest

from mimo_data.annotate.fasttext_train import TrainingDataError
from mimo_data.annotate.quality import QualityScorer, train_quality_model
from mimo_data.cli import main


def _math_solutions(shared_dir, count):
    path = shared_dir / "benchmarks" / "math_test_5000.jsonl"
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["solution"] for _, line in zip(range(count), lines)]


def _news_articles(shared_dir, count):
    truth = json.loads((shared_dir / "corpus" / "html_general" / "scrapinghub_aeb" / "ground-truth.json").read_text("utf-8"))
    return [entry["articleBody"] for _, entry in zip(range(count), truth.values()) if entry["articleBody"]]


def _auc(positive_scores, negative_scores):
    pairs = [(p > n) + 0.5 * (p == n) for p in positive_scores for n in negative_scores]
    return sum(pairs) / len(pairs)


def test_trained_model_ranks_held_out(shared_dir, tmp_path):
    positives = _math_solutions(shared_dir, 200)
    negatives = _news_articles(shared_dir, 110)
    model = tmp_path / "quality.bin"
    counts = train_quality_model(positives[:150], negatives[:80], model)
    assert counts == {"__label__hq": 150, "__label__lq": 80}

    scorer = QualityScorer(model_path=str(model))
    held_out_positive = [scorer._model_score(text) for text in positives[150:]]
    held_out_negative = [scorer._model_score(text) for text in negatives[80:]]
    assert len(held_out_negative) >= 20
    assert _auc(held_out_positive, held_out_negative) > 0.9


def test_training_rejects_empty_class(tmp_path):
    with pytest.raises(TrainingDataError, match="at least 2 labels"):
        train_quality_model(["A good text."], ["   "], tmp_path / "model.bin")


def test_default_model_prefers_derivation(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMO_DATA_CACHE", str(tmp_path))
    scorer = QualityScorer(model_path="default")
    assert (tmp_path / "quality-default-v1.bin").is_file()
    derivation = ("Let $n$ be a positive integer. Since $n^2 - 1 = (n-1)(n+1)$, the product of two "
                  "consecutive even numbers is divisible by 8. Therefore $n^2 - 1$ is divisible by 8 "
                  "for every odd $n$, and hence the claim follows.")
    advert = "Huge sale on sneakers! Buy now and get 50% off, free shipping, order today. Sign up for coupons."
    assert scorer._model_score(derivation) > scorer._model_score(advert)


def test_cli_quality_train(shared_dir, tmp_path, capsys):
    positive = tmp_path / "positive.jsonl"
    negative = tmp_path / "negative.jsonl"
    positive.write_text("".join(json.dumps({"text": t}) + "\n" for t in _math_solutions(shared_dir, 60)), "utf-8")
    negative.write_text("".join(json.dumps({"text": t}) + "\n" for t in _news_articles(shared_dir, 60)), "utf-8")
    out = tmp_path / "model.bin"
    code = main(["quality", "train", "--positive", str(positive), "--negative", str(negative), "--out", str(out), "--epoch", "5"])
    assert code == 0
    assert out.is_file()
    assert "__label__hq=60" in capsys.readouterr().out


def test_cli_quality_missing_input(tmp_path, capsys):
    code = main(["quality", "train", "--positive", str(tmp_path / "none.jsonl"), "--negative", str(tmp_path), "--out", str(tmp_path / "m.bin")])
    assert code == 2
    assert "not found" in capsys.readouterr().err
