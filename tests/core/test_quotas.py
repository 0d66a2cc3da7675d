"""Quota state (SPEC 3.9): the latest quota_set per (rep, month) wins."""

from __future__ import annotations

import json

import pytest

from stream.core.errors import StateVersionError
from stream.core.outcome import Outcome
from stream.core.quotas import Quota, apply_quota, quota_key
from tests.core.builders import quota


def test_latest_quota_wins_and_duplicates_change_nothing() -> None:
    first, outcome = apply_quota(None, quota(amount="90000", event_id="q1"), 2)
    assert outcome is Outcome.APPLIED
    second, outcome = apply_quota(first, quota(amount="95000", event_id="q2"), 2)
    assert outcome is Outcome.APPLIED
    assert second.amount == 95000
    again, outcome = apply_quota(second, quota(amount="1", event_id="q1"), 2)
    assert outcome is Outcome.DUPLICATE
    assert again == second


def test_quota_key_is_per_rep_and_month() -> None:
    assert quota_key("juan", "2026-01") == "juan/2026-01"
    assert quota_key("juan", "2026-01") != quota_key("juan", "2026-02")
    with pytest.raises(ValueError, match="YYYY-MM"):
        quota_key("juan", "2026-1")


def test_quota_of_another_key_is_refused() -> None:
    state, _ = apply_quota(None, quota(month="2026-01"), 0)
    with pytest.raises(ValueError, match="juan/2026-02"):
        apply_quota(state, quota(month="2026-02", event_id="q9"), 0)


def test_quota_json_round_trip_and_version() -> None:
    state, _ = apply_quota(None, quota(amount="90000.10"), 1)
    stored = json.loads(json.dumps(state.to_json()))
    assert stored["amount"] == "90000.10"
    assert Quota.from_json(stored) == state
    stored["v"] = 7
    with pytest.raises(StateVersionError):
        Quota.from_json(stored)
