"""Per-step document accounting: in = kept + dropped, by reason, at every step."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa


class AccountingError(RuntimeError):
    """A drop was recorded by a step the pipeline does not know: a bug, not bad input."""


def step_accounting(ledger: pa.Table, step_order: tuple[str, ...]) -> list[dict]:
    """Return one entry per step: documents in, kept, and dropped by reason.

    ``ledger`` has one row per document ever read, with ``drop_step`` and
    ``drop_reason`` null for kept documents. The documents in at a step are the
    documents kept by the step before it.
    """
    pairs = zip(ledger.column("drop_step").to_pylist(), ledger.column("drop_reason").to_pylist())
    drops: Counter = Counter((step, reason) for step, reason in pairs if reason is not None)
    unknown = sorted({str(step) for step, _ in drops if step not in step_order})
    if unknown:
        raise AccountingError(f"documents dropped by unknown steps {unknown}; known steps: {', '.join(step_order)}")

    entries = []
    documents_in = ledger.num_rows
    for step in step_order:
        dropped = {reason: count for (drop_step, reason), count in sorted(drops.items()) if drop_step == step}
        kept = documents_in - sum(dropped.values())
        entries.append({"step": step, "documents_in": documents_in, "kept": kept, "dropped": dropped})
        documents_in = kept
    return entries


def check_accounting(entries: list[dict]) -> None:
    """Raise AccountingError unless every step ties out and each step starts where the last ended."""
    previous_kept = None
    for entry in entries:
        if entry["documents_in"] != entry["kept"] + sum(entry["dropped"].values()):
            raise AccountingError(f"step {entry['step']}: in != kept + dropped: {entry}")
        if previous_kept is not None and entry["documents_in"] != previous_kept:
            raise AccountingError(f"step {entry['step']}: documents_in {entry['documents_in']} != kept of the step before {previous_kept}")
        previous_kept = entry["kept"]
