"""The incremental aggregates agree with the naive reference model on generated histories."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core.aggregates import Aggregates
from stream.core.facts import CancellationFacts, DealFacts, QuotaFacts
from stream.core.outcome import Outcome
from stream.core.quotas import Quota, apply_quota, quota_key
from stream.core.snapshot import Snapshot
from stream.core.subscription import Subscription, apply_cancellation, apply_deal
from tests.core.reference import Event, Reference

PARTITIONS = 2
START = datetime(2026, 1, 1, tzinfo=UTC)
# Day offsets that land on every tenure and survival boundary and either side of it.
BOUNDARY_DAYS = [-1, 0, 1, 29, 30, 31, 41, 89, 90, 91, 179, 180, 181, 364, 365, 366]
REPS = ["ana", "bo"]

# Mostly a few shared days, so deals collide on the same series; sometimes anywhere.
instants = st.builds(
    lambda day, hour: START + timedelta(days=day, hours=hour),
    st.one_of(st.sampled_from([0, 31, 59, 200]), st.integers(-40, 430)),
    st.sampled_from([0, 0, 12, 23]),
)


@dataclass(frozen=True)
class Deliver:
    event: int
    misrouted: bool


@dataclass(frozen=True)
class Scrape:
    as_of: datetime


@dataclass(frozen=True)
class Rebalance:
    partition: int


Step = Deliver | Scrape | Rebalance


@dataclass(frozen=True)
class History:
    events: list[Event]
    steps: list[Step]
    cohort_months: int


@st.composite
def histories(draw: st.DrawFn) -> History:
    events: list[Event] = []
    anchors: list[datetime] = []
    for n in range(draw(st.integers(1, 8))):
        sid = f"s{n}"
        closes = draw(st.lists(instants, max_size=3))
        anchors += closes
        for closed_at in closes:
            events.append(
                DealFacts(
                    event_id=f"e{len(events)}",
                    subscription_id=sid,
                    deal_id=sid,
                    customer_id="c",
                    rep_id=draw(st.sampled_from(REPS)),
                    rep_name=draw(st.sampled_from([None, "Ann", "Bea", "Cid"])),
                    lead_source=draw(st.sampled_from(["web", "web", "referral"])),
                    closed_at=closed_at,
                    mrr=Decimal(draw(st.sampled_from(["0.01", "99.99", "5000.00", "1234.56"]))),
                )
            )
        for _ in range(draw(st.integers(0, 2))):
            anchor = draw(st.sampled_from(closes)) if closes else draw(instants)
            shift = timedelta(
                days=draw(st.sampled_from(BOUNDARY_DAYS)), hours=draw(st.sampled_from([0, 0, -1]))
            )
            effective = anchor + shift
            events.append(
                CancellationFacts(
                    event_id=f"e{len(events)}",
                    subscription_id=sid,
                    cancelled_at=min(effective, anchor),
                    effective_at=effective,
                    reason=None,
                )
            )
    for _ in range(draw(st.integers(0, 4))):
        events.append(
            QuotaFacts(
                event_id=f"e{len(events)}",
                rep_id=draw(st.sampled_from(REPS)),
                month=draw(st.sampled_from(["2025-12", "2026-01", "2026-06", "2027-01"])),
                amount=Decimal(draw(st.sampled_from(["0", "90000", "1234.5"]))),
            )
        )
    redelivered = draw(st.lists(st.integers(0, len(events) - 1), max_size=5)) if events else []
    order = draw(st.permutations([*range(len(events)), *redelivered]))
    steps: list[Step] = [Deliver(i, draw(st.booleans()) and draw(st.booleans())) for i in order]

    # Scrape times: boundaries of the generated deals, or anywhere; sorted, never backwards.
    boundary = st.builds(
        lambda a, d: a + timedelta(days=d),
        st.sampled_from(anchors or [START]),
        st.sampled_from(BOUNDARY_DAYS),
    )
    times = sorted(draw(st.lists(st.one_of(boundary, instants), min_size=1, max_size=8)))
    positions = sorted(draw(st.integers(0, len(steps))) for _ in times)
    scrapes: list[tuple[int, Step]] = [
        (p, Scrape(t)) for p, t in zip(positions, times, strict=True)
    ]
    rebalances = [
        (draw(st.integers(0, len(steps))), Rebalance(draw(st.integers(0, PARTITIONS - 1))))
        for _ in range(draw(st.integers(0, 2)))
    ]
    # Stable merge keeps the scrapes in time order.
    merged: list[Step] = []
    inserts = sorted([*scrapes, *rebalances], key=lambda item: item[0])
    position = 0
    for index, step in enumerate(steps):
        while position < len(inserts) and inserts[position][0] <= index:
            merged.append(inserts[position][1])
            position += 1
        merged.append(step)
    merged += [step for _, step in inserts[position:]]
    return History(events, merged, draw(st.integers(1, 14)))


def home_partition(event: Event) -> int:
    key = event.rep_id if isinstance(event, QuotaFacts) else event.subscription_id
    return sum(map(ord, key)) % PARTITIONS


class Harness:
    """Plays the worker: keyed tables of states, aggregates kept beside them."""

    def __init__(self, cohort_months: int) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.quotas: dict[str, Quota] = {}
        self.aggregates = Aggregates(lambda: START - timedelta(days=400), cohort_months)
        for partition in range(PARTITIONS):
            self.aggregates.assign(partition, ())

    def deliver(self, event: Event, partition: int) -> Outcome:
        if isinstance(event, QuotaFacts):
            key = quota_key(event.rep_id, event.month)
            old_quota = self.quotas.get(key)
            new_quota, outcome = apply_quota(old_quota, event, partition)
            if outcome is Outcome.APPLIED:
                self.quotas[key] = new_quota
                self.aggregates.replace_quota(partition, old_quota, new_quota)
            return outcome
        old = self.subscriptions.get(event.subscription_id)
        if isinstance(event, DealFacts):
            new, outcome = apply_deal(old, event, partition)
        else:
            new, outcome = apply_cancellation(old, event, partition)
        if outcome is Outcome.APPLIED:
            # Through JSON, as the table stores it.
            self.subscriptions[event.subscription_id] = Subscription.from_json(new.to_json())
            self.aggregates.replace(partition, old, new)
        return outcome

    def rebuild(self, aggregates: Aggregates, partition: int) -> None:
        aggregates.assign(
            partition,
            [s for s in self.subscriptions.values() if s.partition == partition],
            [q for q in self.quotas.values() if q.partition == partition],
        )


def assert_same(actual: Snapshot, expected: Snapshot) -> None:
    for item in dataclasses.fields(Snapshot):
        assert getattr(actual, item.name) == getattr(expected, item.name), item.name


@settings(max_examples=1200, deadline=None)
@given(histories())
def test_incremental_aggregates_match_the_reference(history: History) -> None:
    harness = Harness(history.cohort_months)
    reference = Reference()
    last = START - timedelta(days=400)
    for step in history.steps:
        match step:
            case Deliver(index, misrouted):
                event = history.events[index]
                partition = home_partition(event)
                if misrouted:
                    partition = (partition + 1) % PARTITIONS
                outcome = harness.deliver(event, partition)
                assert (outcome is Outcome.APPLIED) == reference.apply(event)
            case Scrape(as_of):
                last = as_of
                actual = harness.aggregates.snapshot(as_of)
                assert_same(actual, reference.snapshot(as_of, history.cohort_months))
            case Rebalance(partition):
                harness.aggregates.revoke(partition)
                harness.rebuild(harness.aggregates, partition)
    assert harness.aggregates.pending() == reference.pending()
    assert harness.aggregates.rep_ids() == reference.rep_ids()
    assert harness.aggregates.lead_sources() == reference.lead_sources()

    final = harness.aggregates.snapshot(last)
    assert_same(final, reference.snapshot(last, history.cohort_months))
    rebuilt = Aggregates(lambda: last, history.cohort_months)
    for partition in range(PARTITIONS):
        harness.rebuild(rebuilt, partition)
    assert_same(rebuilt.snapshot(last), final)
    assert rebuilt.pending() == harness.aggregates.pending()
