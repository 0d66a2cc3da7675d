"""SPEC section 3 rules as seen through the aggregates: timing, corrections, window, zeros."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from stream.core.aggregates import Aggregates, PartitionAggregates
from stream.core.errors import PartitionNotAssignedError, StateVersionError
from stream.core.facts import CancellationFacts, DealFacts
from stream.core.quotas import apply_quota
from stream.core.subscription import Subscription, apply_cancellation, apply_deal
from tests.core.builders import at, cancellation, deal, quota

KEY = ("juan", "outbound", "2026-01")


class World:
    """One partition's table and the aggregates beside it, driven like the worker does."""

    def __init__(self, start: str = "2026-01-01", cohort_months: int = 12) -> None:
        self.table: dict[str, Subscription] = {}
        self.aggregates = Aggregates(lambda: at(start), cohort_months)
        self.aggregates.assign(0, ())

    def send(self, facts: DealFacts | CancellationFacts, partition: int = 0) -> None:
        old = self.table.get(facts.subscription_id)
        if isinstance(facts, DealFacts):
            new, _ = apply_deal(old, facts, partition)
        else:
            new, _ = apply_cancellation(old, facts, partition)
        self.table[facts.subscription_id] = new
        self.aggregates.replace(partition, old, new)


def test_deal_counts_at_once_as_new_won_and_retained() -> None:
    world = World()
    world.send(deal(closed_at="2026-01-10", mrr="5000.00"))
    snap = world.aggregates.snapshot(at("2026-01-10"))
    assert snap.new_mrr == {KEY: Decimal("5000.00")}
    assert snap.deals_won == {KEY: 1}
    assert snap.retained_mrr == {KEY: Decimal("5000.00")}
    assert snap.deals_retained == {KEY: 1}
    assert snap.scheduled_churn_mrr == {KEY: 0}
    assert snap.churned_mrr == {}
    assert snap.survival_base_mrr == {}


def test_scheduled_churn_becomes_churn_exactly_at_the_churn_time() -> None:
    world = World()
    world.send(deal(closed_at="2026-01-10"))
    world.send(cancellation(cancelled_at="2026-01-20", effective_at="2026-02-20"))
    before = world.aggregates.snapshot(at("2026-02-19T23:59:59"))
    assert before.retained_mrr == {KEY: 5000}
    assert before.deals_retained == {KEY: 1}
    assert before.scheduled_churn_mrr == {KEY: 5000}
    assert before.churned_mrr == {}
    at_churn = world.aggregates.snapshot(at("2026-02-20"))
    assert at_churn.retained_mrr == {KEY: 0}
    assert at_churn.deals_retained == {KEY: 0}
    assert at_churn.scheduled_churn_mrr == {KEY: 0}
    assert at_churn.churned_mrr == {(*KEY, "31-90d"): 5000}
    assert at_churn.deals_churned == {(*KEY, "31-90d"): 1}


def test_cancellation_already_effective_counts_as_churned_on_arrival() -> None:
    world = World()
    world.send(deal(closed_at="2026-01-10"))
    world.aggregates.snapshot(at("2026-03-01"))
    world.send(cancellation(effective_at="2026-02-01"))
    snap = world.aggregates.snapshot(at("2026-03-01"))
    assert snap.churned_mrr == {(*KEY, "0-30d"): 5000}
    assert snap.retained_mrr == {KEY: 0}


def test_pending_cancellation_is_counted_then_applied_when_the_deal_arrives() -> None:
    world = World()
    world.send(cancellation(effective_at="2026-02-20"))
    assert world.aggregates.pending() == 1
    assert world.aggregates.snapshot(at("2026-03-01")).deals_won == {}
    world.send(deal(closed_at="2026-01-10"))
    assert world.aggregates.pending() == 0
    snap = world.aggregates.snapshot(at("2026-03-01"))
    assert snap.churned_mrr == {(*KEY, "31-90d"): 5000}


def test_clamped_cancellation_churns_at_the_close_with_zero_tenure() -> None:
    world = World()
    world.send(cancellation(effective_at="2026-01-01"))
    world.send(deal(closed_at="2026-01-10"))
    snap = world.aggregates.snapshot(at("2026-01-10"))
    assert snap.churned_mrr == {(*KEY, "0-30d"): 5000}
    assert snap.retained_mrr == {KEY: 0}
    assert world.table["sub-1"].clamped


def test_correction_moves_every_series_and_leaves_no_stale_series() -> None:
    world = World()
    world.send(deal(event_id="e1", closed_at="2026-01-10", mrr="5000.00"))
    world.send(cancellation(effective_at="2026-02-20"))
    world.aggregates.snapshot(at("2026-06-01"))
    world.send(
        deal(
            event_id="e2", rep_id="miguel", lead_source="referral", closed_at="2026-02-01", mrr="70"
        )
    )
    snap = world.aggregates.snapshot(at("2026-06-01"))
    moved = ("miguel", "referral", "2026-02")
    assert snap.new_mrr == {moved: 70}
    assert snap.retained_mrr == {moved: 0}
    assert snap.churned_mrr == {(*moved, "0-30d"): 70}
    assert snap.survival_base_mrr == {(*moved, "30d"): 70, (*moved, "90d"): 70}
    # Churned 19 days after the corrected close: it survived neither horizon.
    assert snap.survival_retained_mrr == {(*moved, "30d"): 0, (*moved, "90d"): 0}
    assert world.aggregates.rep_ids() == {"miguel"}
    assert world.aggregates.lead_sources() == {"referral"}


def test_duplicate_leaves_figures_unchanged() -> None:
    world = World()
    world.send(deal(mrr="5000.00"))
    state, _ = apply_deal(world.table["sub-1"], deal(mrr="1.00"), 0)
    assert state == world.table["sub-1"]
    assert world.aggregates.snapshot(at("2026-02-01")).new_mrr == {KEY: 5000}


@pytest.mark.parametrize(
    ("churn_after_close", "survived"),
    [
        (None, True),
        (timedelta(days=90), True),
        (timedelta(days=90) - timedelta(seconds=1), False),
        (timedelta(days=91), True),
    ],
)
def test_survival_of_the_90d_horizon(churn_after_close: timedelta | None, survived: bool) -> None:
    closed = at("2026-01-10T08:00")
    world = World()
    world.send(deal(closed_at=closed))
    if churn_after_close is not None:
        world.send(cancellation(effective_at=closed + churn_after_close))
    just_before = world.aggregates.snapshot(closed + timedelta(days=90) - timedelta(seconds=1))
    assert (*KEY, "90d") not in just_before.survival_base_mrr
    assert just_before.survival_base_mrr == {(*KEY, "30d"): 5000}
    snap = world.aggregates.snapshot(closed + timedelta(days=90))
    assert snap.survival_base_mrr[(*KEY, "90d")] == 5000
    assert snap.survival_retained_mrr[(*KEY, "90d")] == (5000 if survived else 0)


def test_every_horizon_enters_the_base_at_close_plus_horizon() -> None:
    world = World(cohort_months=13)
    world.send(deal(closed_at="2026-01-10"))
    snap = world.aggregates.snapshot(at("2026-01-10") + timedelta(days=365))
    horizons = {key[3] for key in snap.survival_base_mrr}
    assert horizons == {"30d", "90d", "180d", "365d"}


def test_fully_churned_cohort_still_exports_zero_retained() -> None:
    world = World()
    world.send(deal(closed_at="2026-01-10"))
    world.send(cancellation(effective_at="2026-01-15"))
    snap = world.aggregates.snapshot(at("2026-03-01"))
    assert snap.retained_mrr == {KEY: 0}
    assert snap.deals_retained == {KEY: 0}
    assert snap.scheduled_churn_mrr == {KEY: 0}
    assert snap.survival_retained_mrr == {(*KEY, "30d"): 0}


def test_exported_cohorts_window_and_future_months_holding_deals() -> None:
    world = World(cohort_months=3)
    world.send(deal("old", closed_at="2026-01-31T23:59"))
    world.send(deal("edge", closed_at="2026-02-01"))
    world.send(deal("next", closed_at="2026-05-01"))
    snap = world.aggregates.snapshot(at("2026-04-30T12:00"))
    assert {key[2] for key in snap.new_mrr} == {"2026-02", "2026-05"}
    assert snap.cohort_age_months == {"2026-02": 2, "2026-03": 1, "2026-04": 0, "2026-05": -1}
    later = world.aggregates.snapshot(at("2026-05-01"))
    assert {key[2] for key in later.new_mrr} == {"2026-05"}
    assert later.cohort_age_months == {"2026-03": 2, "2026-04": 1, "2026-05": 0}


def test_as_of_never_moves_backwards() -> None:
    world = World()
    world.send(deal(closed_at="2026-01-10"))
    world.send(cancellation(effective_at="2026-02-20"))
    assert world.aggregates.snapshot(at("2026-03-01")).churned_mrr
    earlier = world.aggregates.snapshot(at("2026-02-01"))
    assert earlier.as_of == at("2026-03-01")
    assert earlier.churned_mrr == {(*KEY, "31-90d"): 5000}


def test_snapshot_defaults_to_the_clock() -> None:
    now = [at("2026-01-20")]
    aggregates = Aggregates(lambda: now[0], 12)
    state, _ = apply_deal(None, deal(closed_at="2026-01-10"), 0)
    state, _ = apply_cancellation(state, cancellation(effective_at="2026-02-20"), 0)
    aggregates.assign(0, [state])
    assert aggregates.snapshot().churned_mrr == {}
    now[0] = at("2026-02-20")
    assert aggregates.snapshot().churned_mrr == {(*KEY, "31-90d"): 5000}


def test_quotas_latest_wins_within_the_exported_window() -> None:
    aggregates = Aggregates(lambda: at("2026-03-01"), 2)
    aggregates.assign(0, ())
    first, _ = apply_quota(None, quota(month="2026-03", amount="90000", event_id="q1"), 0)
    aggregates.replace_quota(0, None, first)
    second, _ = apply_quota(first, quota(month="2026-03", amount="80000", event_id="q2"), 0)
    aggregates.replace_quota(0, first, second)
    old, _ = apply_quota(None, quota(month="2026-01", event_id="q3"), 0)
    aggregates.replace_quota(0, None, old)
    zero, _ = apply_quota(None, quota("miguel", "2026-02", "0", "q4"), 0)
    aggregates.replace_quota(0, None, zero)
    snap = aggregates.snapshot()
    assert snap.quota_mrr == {("juan", "2026-03"): 80000, ("miguel", "2026-02"): 0}
    assert aggregates.rep_ids() == {"juan", "miguel"}


def test_partitions_add_up_and_revoke_drops_a_partition() -> None:
    aggregates = Aggregates(lambda: at("2026-02-01"), 12)
    one, _ = apply_deal(None, deal("a", mrr="10.10"), 1)
    two, _ = apply_deal(None, deal("b", mrr="20.20"), 2)
    aggregates.assign(1, [one])
    aggregates.assign(2, [two])
    assert aggregates.partitions() == {1, 2}
    assert aggregates.snapshot().new_mrr == {KEY: Decimal("30.30")}
    aggregates.revoke(2)
    assert aggregates.snapshot().new_mrr == {KEY: Decimal("10.10")}
    with pytest.raises(PartitionNotAssignedError, match="partition 2"):
        aggregates.replace(2, None, two)


def test_key_moving_partition_leaves_its_old_partition() -> None:
    world = World()
    world.aggregates.assign(1, ())
    world.send(deal(mrr="5000.00"), partition=0)
    world.send(cancellation(effective_at="2026-02-20"), partition=1)
    snap = world.aggregates.snapshot(at("2026-03-01"))
    assert snap.deals_won == {KEY: 1}
    world.aggregates.revoke(1)
    assert world.aggregates.snapshot(at("2026-03-01")).deals_won == {}


def test_rep_name_is_the_most_common_with_ties_broken_by_name() -> None:
    world = World()
    world.send(deal("a", rep_name="Juan P."))
    world.send(deal("b", rep_name="Juan"))
    world.send(deal("c", rep_name=None))
    assert world.aggregates.snapshot(at("2026-02-01")).rep_names == {"juan": "Juan"}
    world.send(deal("d", rep_name="Juan P."))
    assert world.aggregates.snapshot(at("2026-02-01")).rep_names == {"juan": "Juan P."}


def test_removing_a_contribution_drops_its_future_deltas() -> None:
    part = PartitionAggregates(at("2026-01-01"))
    state, _ = apply_deal(None, deal(closed_at="2026-01-10"), 0)
    state, _ = apply_cancellation(state, cancellation(effective_at="2026-02-20"), 0)
    part.replace(None, state)
    assert part.future_deltas() == 5  # churn + four horizons
    part.advance(at("2026-03-01"))
    assert part.future_deltas() == 3
    part.replace(state, None)
    assert part.future_deltas() == 0
    assert list(part.series("2000-01")) == []
    assert not part.rep_ids()


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        World().aggregates.snapshot(datetime(2026, 1, 1))


def test_moving_a_churned_deal_keeps_the_other_deals_of_its_series() -> None:
    # Un-applying the moved deal passes its series' count through zero while the
    # other deal's MRR is still in it; that must not drop the series.
    world = World()
    world.send(deal("stays", closed_at="2026-01-05", mrr="100.00"))
    world.send(cancellation("stays", effective_at="2026-06-01"))
    world.send(deal("moves", event_id="m1", closed_at="2026-01-10", mrr="1.00"))
    world.send(cancellation("moves", effective_at="2026-01-01"))
    world.aggregates.snapshot(at("2026-02-01"))
    world.send(deal("moves", event_id="m2", closed_at="2026-03-10", mrr="1.00"))
    snap = world.aggregates.snapshot(at("2026-02-01"))
    march = ("juan", "outbound", "2026-03")
    assert snap.retained_mrr == {KEY: 100, march: 1}
    assert snap.deals_retained == {KEY: 1, march: 1}
    assert snap.scheduled_churn_mrr == {KEY: 100, march: 1}
    assert snap.churned_mrr == {}


def test_failed_rebuild_leaves_the_other_partitions_figures_intact() -> None:
    aggregates = Aggregates(lambda: at("2026-02-01"), 12)
    kept, _ = apply_deal(None, deal("a", mrr="10.00"), 0)
    aggregates.assign(0, [kept])
    good, _ = apply_deal(None, deal("b", mrr="20.00"), 1)
    stored = good.to_json()

    def states() -> Iterator[Subscription]:
        yield good
        yield Subscription.from_json({**stored, "v": 99})

    with pytest.raises(StateVersionError):
        aggregates.assign(1, states())
    assert aggregates.partitions() == {0}
    assert aggregates.snapshot().new_mrr == {KEY: Decimal("10.00")}
