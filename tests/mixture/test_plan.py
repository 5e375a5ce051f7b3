import pytest

from mimo_data.config import StageConfig
from mimo_data.mixture.plan import MIN_PREFIX_TOKENS, SHARE_TOLERANCE, Candidate, MixtureInfeasibleError, plan_stage


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
    plan = plan_stage(corpus(), stage(tokens_target=3000, weights={"web": 0.5, "math": 0.5}, max_epochs=3.0), seed=0)
    assert plan.domains["math"]["tokens_achieved"] == 1500
    assert max(plan.copies[f"m{i:03d}"] for i in range(10)) == 3
    assert plan.domains["math"]["docs_repeated"] == 10


def test_infeasible_budget_raises_with_numbers():
    with pytest.raises(MixtureInfeasibleError) as error:
        plan_stage(corpus(), stage(tokens_target=8000, max_epochs=3.0), seed=0)
    message = str(error.value)
    assert "domain math needs 4000 tokens but reaches only 1500" in message
    assert "math 3" in message
    assert "max_epochs" in message


def test_missing_domain_documents_are_infeasible():
    docs = [d for d in corpus() if d.domain != "math"]
    with pytest.raises(MixtureInfeasibleError, match="domain math needs 1000 tokens but reaches only 0"):
        plan_stage(docs, stage(), seed=0)


def test_excluded_source_and_missing_domain_are_counted():
    plan = plan_stage(corpus(), stage(), seed=0)
    assert "s000" not in plan.copies
    assert plan.not_selected["excluded_source"] == 1
    assert plan.not_selected["budget_full"] == 90
    assert sum(plan.not_selected.values()) + len(plan.copies) == len(corpus())


def test_higher_quality_documents_are_preferred():
    plan = plan_stage(corpus(), stage(tokens_target=3000), seed=0)
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


def mixed_sources() -> list[Candidate]:
    docs = [Candidate(id=f"a{i:03d}", source="arxiv", domain="math", quality=0.5 + (i % 2) / 4, token_count=19) for i in range(50)]
    docs += [Candidate(id=f"f{i:03d}", source="forum", domain="math", quality=0.5, token_count=19) for i in range(50)]
    docs += [Candidate(id=f"w{i:03d}", source="web", domain="web", quality=0.5, token_count=19) for i in range(500)]
    return docs


def test_source_share_is_met_inside_its_domain():
    config = stage(tokens_target=4000, weights={"web": 0.5, "math": 0.5}, exclude_sources=[], source_weights={"arxiv": 0.3})
    plan = plan_stage(mixed_sources(), config, seed=0)
    arxiv, forum = plan.sources["arxiv"], plan.sources["forum"]
    assert arxiv["tokens_target"] == 1200
    assert arxiv["tokens_achieved"] == 1200
    assert forum["share_target"] is None
    assert forum["tokens_achieved"] == 800
    assert arxiv["share_achieved"] == pytest.approx(0.3, abs=SHARE_TOLERANCE)
    assert plan.domains["math"]["share_achieved"] == pytest.approx(0.5, abs=SHARE_TOLERANCE)


def test_fractional_source_cap_limits_last_epoch():
    config = stage(tokens_target=6000, weights={"web": 0.5, "math": 0.5}, exclude_sources=[],
                   source_weights={"forum": 0.1}, source_max_epochs={"arxiv": 2.5})
    plan = plan_stage(mixed_sources(), config, seed=0)
    # arxiv has 1000 tokens; 2.5 epochs allow 2500 and the pool's target is 0.4 x 6000 = 2400.
    arxiv = plan.sources["arxiv"]
    assert arxiv["tokens_achieved"] == 2400
    assert max(plan.copies[f"a{i:03d}"] for i in range(50)) == 3
    assert plan.sources["forum"]["tokens_achieved"] == 600


def test_source_cap_makes_budget_infeasible():
    config = stage(tokens_target=6000, weights={"web": 0.5, "math": 0.5}, exclude_sources=[],
                   source_weights={"arxiv": 0.4}, source_max_epochs={"arxiv": 2.0})
    with pytest.raises(MixtureInfeasibleError, match="source arxiv needs 2400 tokens but reaches only 2000"):
        plan_stage(mixed_sources(), config, seed=0)


def test_domain_min_quality_downsamples_by_score():
    config = stage(tokens_target=2000, weights={"web": 0.5, "math": 0.5}, exclude_sources=[], domain_min_quality={"math": 0.6})
    plan = plan_stage(mixed_sources(), config, seed=0)
    assert plan.not_selected["below_min_quality"] == 75  # 25 arxiv at 0.5 and all 50 forum documents
    assert plan.sources["arxiv"]["docs_selected"] == 25
    assert "forum" not in plan.sources


def test_achieved_shares_are_within_one_point():
    config = stage(tokens_target=10000, weights={"web": 0.7, "math": 0.3}, exclude_sources=[], source_weights={"arxiv": 0.2})
    plan = plan_stage(mixed_sources(), config, seed=3)
    for domain, report in plan.domains.items():
        assert abs(report["share_achieved"] - report["share_target"]) <= SHARE_TOLERANCE, domain
    assert plan.tokens_planned == pytest.approx(10000, abs=50)


def large_documents() -> list[Candidate]:
    """Books far larger than a domain budget next to many short web pages."""
    docs = [Candidate(id=f"b{i:03d}", source="books", domain="math", quality=0.5 + i / 10, token_count=2999) for i in range(3)]
    docs += [Candidate(id=f"w{i:03d}", source="web", domain="web", quality=0.5, token_count=99) for i in range(100)]
    return docs


def test_large_documents_hit_the_budget_with_a_prefix():
    config = stage(tokens_target=5000, weights={"web": 0.7, "math": 0.3}, exclude_sources=[])
    plan = plan_stage(large_documents(), config, seed=0)
    math = plan.domains["math"]
    assert math["tokens_target"] == 1500
    assert math["tokens_achieved"] == 1500  # every book is 3000 tokens, so only a prefix fits
    assert math["docs_cropped"] == 1
    [(doc_id, kept)] = plan.crops.items()
    assert plan.copies[doc_id] == 1
    assert kept == 1499  # the prefix and its end-of-document token fill the budget
    assert math["tokens_cropped"] == 2999 - 1499 == plan.tokens_cropped
    assert math["share_achieved"] == pytest.approx(0.3, abs=SHARE_TOLERANCE)
    assert plan.tokens_planned == 5000


def test_whole_documents_are_preferred_to_prefixes():
    plan = plan_stage(corpus(), stage(), seed=0)
    assert plan.crops == {}
    assert plan.tokens_cropped == 0


def test_prefix_fills_the_rest_after_whole_documents():
    docs = large_documents() + [Candidate(id="short", source="books", domain="math", quality=0.1, token_count=299)]
    config = stage(tokens_target=5000, weights={"web": 0.7, "math": 0.3}, exclude_sources=[])
    plan = plan_stage(docs, config, seed=0)
    assert plan.copies["short"] == 1  # the only book that fits whole is taken whole first
    assert "short" not in plan.crops
    assert len(plan.crops) == 1
    assert sum(plan.crops.values()) + 1 == 1500 - 300  # the prefix and its end-of-document token


def test_fractional_epoch_cap_takes_a_prefix():
    docs = [Candidate(id="book", source="books", domain="math", quality=0.9, token_count=999)]
    docs += [Candidate(id=f"w{i:03d}", source="web", domain="web", quality=0.5, token_count=99) for i in range(100)]
    config = stage(tokens_target=5000, weights={"web": 0.5, "math": 0.5}, exclude_sources=[], source_max_epochs={"books": 2.5})
    plan = plan_stage(docs, config, seed=0)
    # 2.5 epochs of a 1000-token book are 2500 tokens: two whole copies and a half-length prefix.
    assert plan.copies["book"] == 3
    assert plan.crops["book"] == 499
    assert plan.sources["books"]["tokens_achieved"] == 2500
    assert plan.sources["books"]["epochs"] == pytest.approx(2.5)


def test_large_documents_still_infeasible_at_the_epoch_cap():
    config = stage(tokens_target=20000, weights={"web": 0.5, "math": 0.5}, exclude_sources=[], max_epochs=1.0)
    with pytest.raises(MixtureInfeasibleError) as error:
        plan_stage(large_documents(), config, seed=0)
    message = str(error.value)
    assert "domain math needs 10000 tokens but reaches only 9000" in message
    assert "at most 9000 at the max epochs per source (books 1)" in message


def test_prefix_shorter_than_minimum_is_not_taken():
    docs = [Candidate(id=f"w{i:03d}", source="web", domain="web", quality=0.5, token_count=99) for i in range(30)]
    config = stage(tokens_target=2010, weights={"web": 1.0}, exclude_sources=[])
    plan = plan_stage(docs, config, seed=0)
    # 20 whole pages fill 2000 tokens. A 9-token prefix of the 21st would be below MIN_PREFIX_TOKENS.
    assert 10 - 1 < MIN_PREFIX_TOKENS
    assert plan.crops == {}
    assert plan.tokens_planned == 2000


def test_short_prefix_taken_when_shortfall_too_large():
    # A 1200-token budget tolerates 12 tokens short. Whole 200-token pages leave 15 tokens, so a
    # 14-token prefix (below MIN_PREFIX_TOKENS) is taken rather than failing the plan.
    docs = [Candidate(id=f"w{i:03d}", source="web", domain="web", quality=0.5, token_count=199) for i in range(5)]
    docs.append(Candidate(id="tail", source="web", domain="web", quality=0.5, token_count=184))
    config = stage(tokens_target=1200, weights={"web": 1.0}, exclude_sources=[])

    plan = plan_stage(docs, config, seed=0)

    assert 15 - 1 < MIN_PREFIX_TOKENS
    assert plan.tokens_planned == 1200
    assert sorted(plan.crops.values()) == [14]

