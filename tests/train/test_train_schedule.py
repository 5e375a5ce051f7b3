"""The MTP weight and stage schedules, by tokens trained."""

from __future__ import annotations

from mimo_data.train.schedule import mtp_weight, stage_index


def test_mtp_weight_switches_at_token_count():
    schedule = ((0, 0.3), (1000, 0.1))
    assert mtp_weight(0, schedule) == 0.3
    assert mtp_weight(999, schedule) == 0.3
    assert mtp_weight(1000, schedule) == 0.1
    assert mtp_weight(10**9, schedule) == 0.1


def test_stage_index_uses_per_stage_budgets():
    budgets = [100, 50, None]
    assert stage_index(0, budgets) == 0
    assert stage_index(99, budgets) == 0
    assert stage_index(100, budgets) == 1
    assert stage_index(149, budgets) == 1
    assert stage_index(150, budgets) == 2
    assert stage_index(10**9, budgets) == 2


def test_single_stage_never_switches():
    assert stage_index(10**9, [None]) == 0
