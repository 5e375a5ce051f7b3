"""Plan one stage of the mixture: how many copies of each document reach the stage.

Each domain gets ``weight * tokens_target`` tokens, and a source named in
``source_weights`` gets its own ``share * tokens_target`` out of its domain's tokens.
The rest of the domain's budget is shared by its other sources. A budget smaller than
the tokens available is down-sampled. A larger one repeats documents epoch by epoch, at
most ``max_epochs`` times (``source_max_epochs`` per source). Every epoch takes
documents in the order of a weighted sample without replacement, with the quality score
as weight, so the last, partial epoch contains the high-quality documents and leaves out
the low-quality ones. Token costs include the end-of-document token that packing adds,
so planned tokens equal the non-padding tokens in the shards.

Whole documents come first. When the documents left in an epoch are all larger than the
rest of the budget (or of a source's last, fractional epoch), the first of them in
sampling order contributes a prefix that fills it, so a few large documents cannot make
the shares miss their targets. ``StagePlan.crops`` records these prefixes and the
reports count the tokens left out as ``tokens_cropped``.

A budget that cannot be met within ``SHORTFALL_TOLERANCE`` of the stage's tokens raises
``MixtureInfeasibleError`` instead of leaving the stage under-filled.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import xxhash

from mimo_data.config import StageConfig

# Quality scores are clipped to this floor so a zero score still has a small chance.
MIN_SAMPLING_WEIGHT = 0.01
# A budget may fall short of its target by at most this fraction of the stage's tokens,
# because whole documents rarely add up to the exact target. _check_shares then verifies that
# every achieved share is within SHARE_TOLERANCE of its target.
SHORTFALL_TOLERANCE = 0.01
# Achieved shares must be within this many share units (1 percentage point) of the target.
SHARE_TOLERANCE = 0.01
# A document prefix shorter than this is not taken, because a few tokens cut from the start
# of a document teach little. The exception is a budget that would otherwise fall short by
# more than SHORTFALL_TOLERANCE, as small test budgets can.
MIN_PREFIX_TOKENS = 16


class MixtureInfeasibleError(ValueError):
    """A stage's token budget cannot be met with the documents and epoch caps available."""


@dataclass(kw_only=True)
class Candidate:
    """A kept document, with the fields the mixture planner reads."""

    id: str
    source: str
    domain: str
    quality: float
    token_count: int  # tokens of the text, without the end-of-document token


@dataclass(kw_only=True)
class _Pool:
    """Documents that share one budget: a source with its own share, or the rest of a domain."""

    domain: str
    sources: list[str]
    docs: list[Candidate]
    tokens_target: int


@dataclass
class StagePlan:
    """Copies per selected document and the per-domain and per-source accounting."""

    copies: dict[str, int] = field(default_factory=dict)
    # Document id -> tokens kept in one of its copies, for documents cut to fill a budget.
    # The other copies of such a document are whole.
    crops: dict[str, int] = field(default_factory=dict)
    domains: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    not_selected: dict[str, int] = field(default_factory=dict)  # reason -> documents

    @property
    def tokens_planned(self) -> int:
        return sum(report["tokens_achieved"] for report in self.domains.values())

    @property
    def tokens_cropped(self) -> int:
        return sum(report["tokens_cropped"] for report in self.domains.values())


def plan_stage(candidates: list[Candidate], stage: StageConfig, *, seed: int) -> StagePlan:
    """Decide the copies of each candidate in ``stage``; deterministic for a seed.

    Raises ``MixtureInfeasibleError`` when a domain or source budget cannot be met.
    """
    plan = StagePlan()
    not_selected: dict[str, int] = defaultdict(int)

    # 1. Split candidates into domains, counting the ones the stage cannot use.
    by_domain: dict[str, list[Candidate]] = defaultdict(list)
    for doc in candidates:
        reason = _ineligible_reason(doc, stage)
        if reason:
            not_selected[reason] += 1
        else:
            by_domain[doc.domain].append(doc)

    # 2. Fill each pool's budget; a pool that cannot reach its target stops the plan.
    for pool in _pools(by_domain, stage):
        copies, crops = _fill_pool(pool, stage, seed)
        _check_feasible(pool, copies, crops, stage)
        plan.copies.update(copies)
        plan.crops.update(crops)
        not_selected["budget_full"] += sum(1 for d in pool.docs if d.id not in copies)

    # 3. Reports per domain and per source, then the share check over the whole stage.
    plan.domains = _domain_reports(by_domain, plan, stage)
    plan.sources = _source_reports(by_domain, plan, stage)
    plan.not_selected = {reason: count for reason, count in sorted(not_selected.items()) if count}
    _check_shares(plan, stage)
    return plan


def _ineligible_reason(doc: Candidate, stage: StageConfig) -> str | None:
    if doc.source in stage.exclude_sources:
        return "excluded_source"
    if stage.weights.get(doc.domain, 0.0) <= 0.0:
        return "domain_not_in_stage"
    if doc.quality < max(stage.min_quality, stage.domain_min_quality.get(doc.domain, 0.0)):
        return "below_min_quality"
    if doc.token_count <= 0:
        return "no_tokens"
    return None


def _pools(by_domain: dict[str, list[Candidate]], stage: StageConfig) -> list[_Pool]:
    """Split every domain of the stage into one pool per source share plus one for the rest."""
    pools = []
    for domain, weight in sorted(stage.weights.items()):
        if weight <= 0:
            continue
        docs = sorted(by_domain.get(domain, []), key=lambda d: d.id)
        own_sources = sorted({d.source for d in docs} & set(stage.source_weights))
        for source in own_sources:
            pools.append(_Pool(domain=domain, sources=[source], docs=[d for d in docs if d.source == source],
                               tokens_target=round(stage.source_weights[source] * stage.tokens_target)))
        rest_share = weight - sum(stage.source_weights[source] for source in own_sources)
        rest_docs = [d for d in docs if d.source not in stage.source_weights]
        rest_target = round(rest_share * stage.tokens_target)
        # A domain wholly given to named sources leaves no budget for its other sources.
        if rest_target > 0 or not own_sources:
            pools.append(_Pool(domain=domain, sources=sorted({d.source for d in rest_docs}), docs=rest_docs,
                               tokens_target=rest_target))
    return pools


def _max_epochs(source: str, stage: StageConfig) -> float:
    return stage.source_max_epochs.get(source, stage.max_epochs)


def _fill_pool(pool: _Pool, stage: StageConfig, seed: int) -> tuple[dict[str, int], dict[str, int]]:
    """Return copies per document id, and the prefix crops, that fill the pool's target.

    Epoch ``k`` offers every document whose source may still be repeated. A source whose
    cap has a fractional part gets that fraction of its tokens in its last epoch. The
    epochs stop once a document no longer fits in the remaining budget.
    """
    order = sorted(pool.docs, key=lambda d: _sampling_key(d, stage.name, seed))
    source_tokens: dict[str, int] = defaultdict(int)
    for doc in pool.docs:
        source_tokens[doc.source] += _cost(doc)

    copies: dict[str, int] = defaultdict(int)
    crops: dict[str, int] = {}
    remaining = pool.tokens_target
    max_cap = max((_max_epochs(source, stage) for source in source_tokens), default=0.0)
    for epoch in range(math.ceil(max_cap)):
        allowance = {s: min(1.0, _max_epochs(s, stage) - epoch) * tokens for s, tokens in source_tokens.items()}

        # 1. Whole documents, in sampling order, while they fit.
        too_large: list[Candidate] = []
        budget_bound = False
        for doc in order:
            cost = _cost(doc)
            if cost <= min(allowance[doc.source], remaining):
                copies[doc.id] += 1
                remaining -= cost
                allowance[doc.source] -= cost
            else:
                too_large.append(doc)
                budget_bound = budget_bound or cost > remaining

        # 2. Prefixes of the documents that did not fit fill what is left. A cropped copy
        # is its source's last in this epoch, and either ends the pool or its source's
        # last epoch, so no document is cropped twice.
        tolerated = SHORTFALL_TOLERANCE * stage.tokens_target
        for doc in too_large:
            prefix = int(min(allowance[doc.source], remaining)) - 1  # one token is the end-of-document token
            if prefix >= MIN_PREFIX_TOKENS or (prefix >= 1 and remaining > tolerated):
                copies[doc.id] += 1
                crops[doc.id] = prefix
                remaining -= prefix + 1
                allowance[doc.source] -= prefix + 1

        if budget_bound or remaining <= 0:
            break
    return dict(copies), crops


def _check_feasible(pool: _Pool, copies: dict[str, int], crops: dict[str, int], stage: StageConfig) -> None:
    """Raise ``MixtureInfeasibleError`` when the pool falls short by more than the tolerance."""
    achieved = sum(_planned_tokens(d, copies, crops) for d in pool.docs)
    shortfall = pool.tokens_target - achieved
    if shortfall <= SHORTFALL_TOLERANCE * stage.tokens_target:
        return

    available = sum(_cost(d) for d in pool.docs)
    at_cap = sum(int(_cost(d) * _max_epochs(d.source, stage)) for d in pool.docs)
    caps = ", ".join(f"{source} {_max_epochs(source, stage):g}" for source in pool.sources) or "no sources"
    what = f"source {pool.sources[0]}" if pool.sources and pool.sources[0] in stage.source_weights else f"domain {pool.domain}"
    raise MixtureInfeasibleError(
        f"stage {stage.name}: {what} needs {pool.tokens_target} tokens but reaches only {achieved}: "
        f"{len(pool.docs)} documents with {available} tokens, at most {at_cap} at the max epochs per source ({caps}). "
        f"Lower its weight, raise max_epochs (or source_max_epochs), lower tokens_target, or add data."
    )


def _check_shares(plan: StagePlan, stage: StageConfig) -> None:
    """Raise ``MixtureInfeasibleError`` when an achieved share is off by more than SHARE_TOLERANCE."""
    for kind, reports in (("domain", plan.domains), ("source", plan.sources)):
        for name, report in reports.items():
            target = report.get("share_target")
            if target is not None and abs(report["share_achieved"] - target) > SHARE_TOLERANCE:
                raise MixtureInfeasibleError(
                    f"stage {stage.name}: {kind} {name} reaches a share of {report['share_achieved']:.4f} "
                    f"against a target of {target:.4f}; documents are too large for the budget, so raise tokens_target"
                )


def _cost(doc: Candidate) -> int:
    return doc.token_count + 1  # packing appends one end-of-document token


def _planned_tokens(doc: Candidate, copies: dict[str, int], crops: dict[str, int]) -> int:
    """Tokens of all copies of ``doc`` in the stage, end-of-document tokens included."""
    tokens = _cost(doc) * copies.get(doc.id, 0)
    if doc.id in crops:
        tokens -= doc.token_count - crops[doc.id]
    return tokens


def _sampling_key(doc: Candidate, stage_name: str, seed: int) -> tuple[float, str]:
    """Key of the Efraimidis-Spirakis weighted sample: smaller keys are taken first."""
    digest = xxhash.xxh64_intdigest(f"{seed}\x00{stage_name}\x00{doc.id}".encode())
    uniform = (digest + 1) / (2**64 + 1)  # in (0, 1)
    weight = max(doc.quality, MIN_SAMPLING_WEIGHT)
    return -math.log(uniform) / weight, doc.id


def _summary(docs: list[Candidate], plan: StagePlan, tokens_planned: int) -> dict:
    """Tokens and documents available, selected, repeated and cropped, shared by domain and source reports."""
    copies, crops = plan.copies, plan.crops
    tokens_available = sum(_cost(d) for d in docs)
    tokens_achieved = sum(_planned_tokens(d, copies, crops) for d in docs)
    return {
        "tokens_available": tokens_available,
        "tokens_achieved": tokens_achieved,
        "share_achieved": round(tokens_achieved / tokens_planned, 6) if tokens_planned else 0.0,
        "docs_available": len(docs),
        "docs_selected": sum(1 for d in docs if d.id in copies),
        "docs_repeated": sum(1 for d in docs if copies.get(d.id, 0) > 1),
        "docs_cropped": sum(1 for d in docs if d.id in crops),
        "tokens_cropped": sum(d.token_count - crops[d.id] for d in docs if d.id in crops),
        "copies": sum(copies.get(d.id, 0) for d in docs),
        "epochs": round(tokens_achieved / tokens_available, 4) if tokens_available else 0.0,
    }


def _domain_reports(by_domain: dict[str, list[Candidate]], plan: StagePlan, stage: StageConfig) -> dict[str, dict]:
    tokens_planned = sum(_planned_tokens(d, plan.copies, plan.crops) for docs in by_domain.values() for d in docs)
    reports = {}
    for domain, weight in sorted(stage.weights.items()):
        report = {"weight": weight, "share_target": weight, "tokens_target": round(weight * stage.tokens_target)}
        report.update(_summary(by_domain.get(domain, []), plan, tokens_planned))
        reports[domain] = report
    return reports


def _source_reports(by_domain: dict[str, list[Candidate]], plan: StagePlan, stage: StageConfig) -> dict[str, dict]:
    """Per source: its own share target where ``source_weights`` names it, else null targets."""
    tokens_planned = sum(_planned_tokens(d, plan.copies, plan.crops) for docs in by_domain.values() for d in docs)
    by_source: dict[str, list[Candidate]] = defaultdict(list)
    for docs in by_domain.values():
        for doc in docs:
            by_source[doc.source].append(doc)

    reports = {}
    for source, docs in sorted(by_source.items()):
        share = stage.source_weights.get(source)
        report = {
            "domain": docs[0].domain,
            "share_target": share,
            "tokens_target": round(share * stage.tokens_target) if share is not None else None,
            "max_epochs": _max_epochs(source, stage),
        }
        report.update(_summary(docs, plan, tokens_planned))
        reports[source] = report
    return reports
