"""The per-subscription state machine (SPEC 3.1-3.3) and its stored form."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from stream.core.errors import StateVersionError
from stream.core.outcome import Outcome
from stream.core.subscription import Subscription, apply_cancellation, apply_deal
from tests.core.builders import at, cancellation, deal


def test_first_deal_creates_the_subscription() -> None:
    state, outcome = apply_deal(None, deal(), partition=2)
    assert outcome is Outcome.APPLIED
    assert state.deal == deal()
    assert state.partition == 2
    assert state.event_ids == {"deal-sub-1"}
    assert not state.pending
    assert state.churn_at is None


def test_redelivered_event_is_a_duplicate_and_changes_nothing() -> None:
    state, _ = apply_deal(None, deal(mrr="100.00"), 0)
    again, outcome = apply_deal(state, deal(mrr="999.00"), 5)
    assert outcome is Outcome.DUPLICATE
    assert again == state


def test_event_id_of_a_deal_is_a_duplicate_as_a_cancellation_too() -> None:
    state, _ = apply_deal(None, deal(event_id="e1"), 0)
    again, outcome = apply_cancellation(state, cancellation(event_id="e1"), 0)
    assert outcome is Outcome.DUPLICATE
    assert again.cancellation is None


def test_second_deal_with_a_new_event_id_is_a_correction() -> None:
    state, _ = apply_deal(None, deal(event_id="e1", rep_id="juan", mrr="100.00"), 0)
    corrected, outcome = apply_deal(state, deal(event_id="e2", rep_id="miguel", mrr="80.00"), 0)
    assert outcome is Outcome.APPLIED
    assert corrected.deal is not None
    assert (corrected.deal.rep_id, corrected.deal.mrr) == ("miguel", Decimal("80.00"))
    assert corrected.event_ids == {"e1", "e2"}


def test_cancellation_before_its_deal_is_pending_then_applied() -> None:
    state, outcome = apply_cancellation(None, cancellation(effective_at="2026-02-20"), 1)
    assert outcome is Outcome.APPLIED
    assert state.pending
    assert state.churn_at is None
    joined, _ = apply_deal(state, deal(closed_at="2026-01-10"), 1)
    assert not joined.pending
    assert joined.churn_at == at("2026-02-20")
    assert not joined.clamped


def test_latest_cancellation_wins() -> None:
    state, _ = apply_deal(None, deal(), 0)
    state, _ = apply_cancellation(state, cancellation(event_id="c1", effective_at="2026-03-01"), 0)
    state, _ = apply_cancellation(state, cancellation(event_id="c2", effective_at="2026-05-01"), 0)
    assert state.churn_at == at("2026-05-01")


def test_cancellation_effective_before_the_close_is_clamped_to_the_close() -> None:
    state, _ = apply_cancellation(None, cancellation(effective_at="2026-01-05"), 0)
    state, _ = apply_deal(state, deal(closed_at="2026-01-10T09:00"), 0)
    assert state.clamped
    assert state.churn_at == at("2026-01-10T09:00")


def test_cancellation_effective_exactly_at_the_close_is_not_clamped() -> None:
    state, _ = apply_deal(None, deal(closed_at="2026-01-10"), 0)
    state, _ = apply_cancellation(state, cancellation(effective_at="2026-01-10"), 0)
    assert not state.clamped
    assert state.churn_at == at("2026-01-10")


def test_latest_partition_written_owns_the_key() -> None:
    state, _ = apply_deal(None, deal(), 3)
    moved, _ = apply_cancellation(state, cancellation(), 6)
    assert moved.partition == 6


def test_event_of_another_subscription_is_refused() -> None:
    state, _ = apply_deal(None, deal("sub-1"), 0)
    with pytest.raises(ValueError, match="sub-2"):
        apply_deal(state, deal("sub-2"), 0)


def test_json_round_trip_keeps_every_digit_and_offset() -> None:
    state, _ = apply_deal(None, deal(mrr="1234.57", closed_at="2026-01-10T10:11:12.345678"), 4)
    state, _ = apply_cancellation(state, cancellation(effective_at="2026-02-01", reason="price"), 4)
    stored = json.loads(json.dumps(state.to_json()))
    assert stored["v"] == 1
    assert stored["deal"]["mrr"] == "1234.57"
    assert Subscription.from_json(stored) == state


def test_pending_state_round_trips() -> None:
    state, _ = apply_cancellation(None, cancellation(), 0)
    assert Subscription.from_json(json.loads(json.dumps(state.to_json()))) == state


@pytest.mark.parametrize("version", [None, 0, 2, "1"])
def test_unknown_state_version_is_refused(version: object) -> None:
    state, _ = apply_deal(None, deal(), 0)
    stored = state.to_json()
    stored["v"] = version
    with pytest.raises(StateVersionError, match="version 1 only"):
        Subscription.from_json(stored)
