"""Plan one stage of the mixture: how many copies of each document reach the stage.

Each domain gets ``weight * tokens_target`` tokens. A domain with more tokens than
its budget is down-sampled; one with fewer is repeated (whole epochs, at most
``max_epochs``). The partial epoch is filled by weighted sampling without
replacement, with the quality score as weight, so high-quality documents are the
ones up-sampled and low-quality ones are the ones left out. Token costs include the
end-of-document token that packing adds, so planned tokens equal the non-padding
tokens in the shards.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import xxhash

from mimo_data.config import StageConfig

# Quality scores are clipped to this floor so a zero score still has a small chance.
MIN_SAMPLING_WEIGHT = 0.01


@dataclass(kw_only=True)
class Candidate:
    """A kept document, with the fields the mixture planner reads."""

    id: str
    source: str
    domain: str
    quality: float
    token_count: int  # tokens of the text, without the end-of-document token


@dataclass
class StagePlan:
    """Copies per selected document and the per-domain and per-source accounting."""

    copies: dict[str, int] = field(default_factory=dict)
    domains: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    not_selected: dict[str, int] = field(default_factory=dict)  # reason -> documents

    @property
    def tokens_planned(self) -> int:
        return sum(report["tokens_achieved"] for report in self.domains.values())


def plan_stage(candidates: list[Candidate], stage: StageConfig, *, seed: int) -> StagePlan:
    """Decide the copies of each candidate in ``stage``; deterministic for a seed."""
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

    # 2. Fill each domain's budget.
    for domain, weight in sorted(stage.weights.items()):
        docs = sorted(by_domain.get(domain, []), key=lambda d: d.id)
        tokens_target = round(weight * stage.tokens_target)
        copies = _fill_budget(docs, tokens_target, stage, seed)
        plan.copies.update(copies)
        plan.domains[domain] = _domain_report(docs, copies, weight, tokens_target)
        not_selected["budget_full"] += sum(1 for d in docs if d.id not in copies)

    # 3. Per-source view of the same selection.
    plan.sources = _source_reports(by_domain, plan.copies)
    plan.not_selected = {reason: count for reason, count in sorted(not_selected.items()) if count}
    return plan


def _ineligible_reason(doc: Candidate, stage: StageConfig) -> str | None:
    if doc.source in stage.exclude_sources:
        return "excluded_source"
    if stage.weights.get(doc.domain, 0.0) <= 0.0:
        return "domain_not_in_stage"
    if doc.quality < stage.min_quality:
        return "below_min_quality"
    if doc.token_count <= 0:
        return "no_tokens"
    return None


def _fill_budget(docs: list[Candidate], tokens_target: int, stage: StageConfig, seed: int) -> dict[str, int]:
    """Return copies per document id so the domain's tokens come as close to the target as possible."""
    available = sum(_cost(d) for d in docs)
    if available == 0 or tokens_target <= 0:
        return {}

    # 1. Whole epochs, capped by max_epochs.
    max_whole = math.floor(stage.max_epochs)
    whole_epochs = min(tokens_target // available, max_whole)
    copies = {d.id: whole_epochs for d in docs} if whole_epochs else {}
    remaining = tokens_target - whole_epochs * available

    # 2. One partial epoch by weighted sampling without replacement, within max_epochs.
    remaining = min(remaining, math.floor((stage.max_epochs - whole_epochs) * available))
    if remaining > 0:
        for doc in sorted(docs, key=lambda d: _sampling_key(d, stage.name, seed)):
            cost = _cost(doc)
            if cost <= remaining:
                copies[doc.id] = copies.get(doc.id, 0) + 1
                remaining -= cost
            if remaining < 1:
                break
    return {doc_id: count for doc_id, count in copies.items() if count > 0}


def _cost(doc: Candidate) -> int:
    return doc.token_count + 1  # packing appends one end-of-document token


def _sampling_key(doc: Candidate, stage_name: str, seed: int) -> float:
    """Key of the Efraimidis-Spirakis weighted sample: smaller keys are taken first."""
    digest = xxhash.xxh64_intdigest(f"{seed}\x00{stage_name}\x00{doc.id}".encode())
    uniform = (digest + 1) / (2**64 + 1)  # in (0, 1)
    weight = max(doc.quality, MIN_SAMPLING_WEIGHT)
    return -math.log(uniform) / weight


def _domain_report(docs: list[Candidate], copies: dict[str, int], weight: float, tokens_target: int) -> dict:
    tokens_available = sum(_cost(d) for d in docs)
    tokens_achieved = sum(_cost(d) * copies.get(d.id, 0) for d in docs)
    return {
        "weight": weight,
        "tokens_target": tokens_target,
        "tokens_available": tokens_available,
        "tokens_achieved": tokens_achieved,
        "docs_available": len(docs),
        "docs_selected": sum(1 for d in docs if d.id in copies),
        "copies": sum(copies.get(d.id, 0) for d in docs),
        "epochs": round(tokens_achieved / tokens_available, 4) if tokens_available else 0.0,
    }


def _source_reports(by_domain: dict[str, list[Candidate]], copies: dict[str, int]) -> dict[str, dict]:
    reports: dict[str, dict] = {}
    for docs in by_domain.values():
        for doc in docs:
            report = reports.setdefault(
                doc.source,
                {"domain": doc.domain, "docs_available": 0, "tokens_available": 0, "docs_selected": 0, "tokens_achieved": 0},
            )
            report["docs_available"] += 1
            report["tokens_available"] += _cost(doc)
            if doc.id in copies:
                report["docs_selected"] += 1
                report["tokens_achieved"] += _cost(doc) * copies[doc.id]
    for report in reports.values():
        available = report["tokens_available"]
        report["epochs"] = round(report["tokens_achieved"] / available, 4) if available else 0.0
    return dict(sorted(reports.items()))
