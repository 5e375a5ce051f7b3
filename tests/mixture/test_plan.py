import pytest

from mimo_data.config import StageConfig
from mimo_data.mixture.plan import Candidate, plan_stage


def corpus() -> list[Candidate]:
    docs = []
    for i in range(100):
        docs.append(Candidate(id=f"w{i:03d}", source="web", domain="web", quality=0.2 + (i % 5) / 10, token_count=99))
    for i in range(10):
        docs.append(Candidate(id=f"m{i:03d}", source="math", domain="math", quality=0.9, token_count=49))
    docs.append(Candidate(id="s000", source="qa", domain="synthetic", quality=0.9, token_count=9))
    return docs


def stage(**overrides) -> StageConfig:
    fields = dict(name="stage-1", seq_len=64, tokens_target=2000, weights={"web": 0.5, "math": 0.5}, exclude_sources=["qa"])
    fields.update(overrides)
    return StageConfig(**fields)


def test_downsamples_overrepresented_domain():
    plan = plan_stage(corpus(), stage(), seed=0)
    web = plan.domains["web"]
    assert web["tokens_target"] == 1000
    assert web["tokens_achieved"] == 1000  # ten documents of 100 tokens (with end-of-document token)
    assert web["docs_selected"] == 10
    assert web["epochs"] == pytest.approx(0.1)


def test_upsamples_scarce_domain_in_whole_epochs():
    plan = plan_stage(corpus(), stage(), seed=0)
    math = plan.domains["math"]
    assert math["tokens_available"] == 500
    assert math["tokens_achieved"] == 1000
    assert math["epochs"] == pytest.approx(2.0)
    assert all(plan.copies[f"m{i:03d}"] == 2 for i in range(10))


def test_max_epochs_caps_repetition():
    plan = plan_stage(corpus(), stage(tokens_target=8000, max_epochs=3.0), seed=0)
    assert plan.domains["math"]["tokens_achieved"] == 1500
    assert max(plan.copies[f"m{i:03d}"] for i in range(10)) == 3


def test_excluded_source_and_missing_domain_are_counted():
    plan = plan_stage(corpus(), stage(), seed=0)
    assert "s000" not in plan.copies
    assert plan.not_selected["excluded_source"] == 1
    assert plan.not_selected["budget_full"] == 90
    assert sum(plan.not_selected.values()) + len(plan.copies) == len(corpus())


def test_higher_quality_documents_are_preferred():
    plan = plan_stage(corpus(), stage(tokens_target=10000, weights={"web": 0.3, "math": 0.7}), seed=0)
    chosen = [d.quality for d in corpus() if d.domain == "web" and d.id in plan.copies]
    skipped = [d.quality for d in corpus() if d.domain == "web" and d.id not in plan.copies]
    assert sum(chosen) / len(chosen) > sum(skipped) / len(skipped)


def test_plan_is_deterministic_and_seeded():
    first = plan_stage(corpus(), stage(), seed=0).copies
    assert plan_stage(list(reversed(corpus())), stage(), seed=0).copies == first
    assert plan_stage(corpus(), stage(), seed=1).copies != first


def test_min_quality_excludes_documents():
    plan = plan_stage(corpus(), stage(min_quality=0.5), seed=0)
    assert all(d.quality >= 0.5 for d in corpus() if d.id in plan.copies)
    assert plan.not_selected["below_min_quality"] == 60  # qualities 0.2, 0.3 and 0.4: 3 of 5 web documents
