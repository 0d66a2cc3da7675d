"""Applies one Kafka message to the state: decode, route, upsert, record.

No Faust here: the tables are plain mutable mappings of JSON values, so this is
tested directly and the Faust agents stay a thin loop around `Processor.process`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from schemas.events import QuotaSet
from stream.core.aggregates import Aggregates
from stream.core.facts import CancellationFacts, DealFacts, QuotaFacts
from stream.core.quotas import Quota, apply_quota, quota_key
from stream.core.subscription import Outcome, Subscription, apply_cancellation, apply_deal
from stream.health import PipelineMetrics
from stream.validation import Reason, Rejection, TopicKind, Validator, to_facts

CLAMPED_REASON = "effective_before_close"


@dataclass(frozen=True, slots=True)
class Message:
    """The parts of a Kafka record the processor needs."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Rejected:
    rejection: Rejection


@dataclass(frozen=True, slots=True)
class Rekey:
    """The message is valid but keyed by something other than its join key."""

    key: str


Result = Applied | Rejected | Rekey


@dataclass(frozen=True, slots=True)
class Limits:
    max_reps: int
    max_lead_sources: int


class Processor:
    """One per worker. `subscriptions` and `quotas` are the changelogged tables."""

    def __init__(
        self,
        *,
        validator: Validator,
        subscriptions: MutableMapping[str, Any],
        quotas: MutableMapping[str, Any],
        deals: Aggregates,
        quota_totals: Aggregates,
        limits: Limits,
        metrics: PipelineMetrics,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._validator = validator
        self._subscriptions = subscriptions
        self._quotas = quotas
        self._deals = deals
        self._quota_totals = quota_totals
        self._limits = limits
        self._metrics = metrics
        self._wall_clock = wall_clock

    def process(self, kind: TopicKind, message: Message, *, source_topic: str) -> Result:
        """Apply `message` read from `message.topic`; counters are labelled `source_topic`
        (the input topic, also for copies re-routed through a repartition topic)."""
        rerouted = message.topic != source_topic
        if not rerouted:
            self._metrics.consumed.labels(source_topic).inc()
        result = self._route(kind, message, rerouted=rerouted)
        self._record(result, message, source_topic)
        return result

    def _route(self, kind: TopicKind, message: Message, *, rerouted: bool) -> Result:
        event = self._validator.decode(message.value, kind)
        if isinstance(event, Rejection):
            return Rejected(event)
        join_key = event.rep_id if isinstance(event, QuotaSet) else event.subscription_id
        if not rerouted and message.key != join_key.encode():
            return Rekey(join_key)
        facts = to_facts(event, self._validator.fx)
        if isinstance(facts, DealFacts):
            return self._apply_deal(facts, message.partition)
        if isinstance(facts, CancellationFacts):
            return self._apply_cancellation(facts, message.partition)
        return self._apply_quota(facts, message.partition)

    def _apply_deal(self, facts: DealFacts, partition: int) -> Result:
        old = self._load_subscription(facts.subscription_id)
        new, outcome = apply_deal(old, facts, partition)
        # Only a deal that changes something can add a rep: a re-delivery stays a duplicate.
        rejection = self._cardinality(facts, old) if outcome is Outcome.APPLIED else None
        if rejection is not None:
            return Rejected(rejection)
        return self._store_subscription(old, new, outcome)

    def _apply_cancellation(self, facts: CancellationFacts, partition: int) -> Result:
        old = self._load_subscription(facts.subscription_id)
        new, outcome = apply_cancellation(old, facts, partition)
        return self._store_subscription(old, new, outcome)

    def _apply_quota(self, facts: QuotaFacts, partition: int) -> Result:
        key = quota_key(facts.rep_id, facts.month)
        stored = self._quotas.get(key)
        old = Quota.from_json(stored) if stored is not None else None
        new, outcome = apply_quota(old, facts, partition)
        rejection = self._new_rep(facts.rep_id) if outcome is Outcome.APPLIED else None
        if rejection is not None:
            return Rejected(rejection)
        if outcome is Outcome.APPLIED:
            self._quotas[key] = new.to_json()
            if partition in self._quota_totals.partitions():
                self._quota_totals.replace_quota(partition, old, new)
        return Applied(outcome)

    def _load_subscription(self, subscription_id: str) -> Subscription | None:
        stored = self._subscriptions.get(subscription_id)
        return Subscription.from_json(stored) if stored is not None else None

    def _store_subscription(
        self, old: Subscription | None, new: Subscription, outcome: Outcome
    ) -> Result:
        if outcome is Outcome.APPLIED:
            self._subscriptions[new.subscription_id] = new.to_json()
            # A partition still recovering has no aggregates yet; its rebuild reads the
            # table, which already holds this write.
            if new.partition in self._deals.partitions():
                self._deals.replace(new.partition, old, new)
            if new.clamped and not (old is not None and old.clamped):
                self._metrics.clamped.labels(CLAMPED_REASON).inc()
        return Applied(outcome)

    def _cardinality(self, facts: DealFacts, old: Subscription | None) -> Rejection | None:
        """Refuse a deal that would add a rep or lead source beyond the configured limits,
        so an upstream bug inventing ids cannot flood Prometheus with series."""
        previous = old.deal if old is not None else None
        if previous is not None and (previous.rep_id, previous.lead_source) == (
            facts.rep_id,
            facts.lead_source,
        ):
            return None
        deals = self._deals
        return self._new_rep(facts.rep_id) or _over_limit(
            facts.lead_source,
            field="lead_source",
            known=deals.has_lead_source,
            present=deals.lead_sources,
            setting="MAX_LEAD_SOURCES",
            limit=self._limits.max_lead_sources,
        )

    def _new_rep(self, rep_id: str) -> Rejection | None:
        """A rep counts once, whether its deals or its quotas name it."""
        deals, quotas = self._deals, self._quota_totals
        return _over_limit(
            rep_id,
            field="rep_id",
            known=lambda rep: deals.has_rep(rep) or quotas.has_rep(rep),
            present=lambda: deals.rep_ids() | quotas.rep_ids(),
            setting="MAX_REPS",
            limit=self._limits.max_reps,
        )

    def _record(self, result: Result, message: Message, topic: str) -> None:
        now = self._wall_clock()
        metrics = self._metrics
        if isinstance(result, Applied):
            counter = metrics.applied if result.outcome is Outcome.APPLIED else metrics.duplicate
            counter.labels(topic).inc()
        elif isinstance(result, Rejected):
            metrics.rejected.labels(topic, result.rejection.reason.value).inc()
        else:
            metrics.rekeyed.labels(topic).inc()
        if message.timestamp_ms is not None and not isinstance(result, Rekey):
            metrics.delay.labels(topic).observe(max(0.0, now - message.timestamp_ms / 1000))
        metrics.last_event.labels(topic).set(now)


def _over_limit(
    value: str,
    *,
    field: str,
    known: Callable[[str], bool],
    present: Callable[[], set[str]],
    setting: str,
    limit: int,
) -> Rejection | None:
    # Known ids are the common case and cost O(partitions); only a new one counts all.
    if known(value):
        return None
    count = len(present())
    if count < limit:
        return None
    return Rejection(
        Reason.CARDINALITY_LIMIT,
        f"{field} {value!r} would be number {count + 1}; RETAINED_MRR_{setting} is {limit}",
    )
