"""The per-message logic without Faust or Kafka: plain dicts stand in for the tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry

from stream.core.aggregates import Aggregates
from stream.core.money import FxTable
from stream.core.subscription import Outcome
from stream.health import PipelineMetrics
from stream.processor import Applied, Limits, Message, Processor, Rejected, Rekey
from stream.validation import Reason, TopicKind, Validator

NOW = datetime(2026, 7, 1, tzinfo=UTC)
DEALS, CANCELS, QUOTAS = "deals.won", "subscriptions.cancelled", "sales.quotas"


class Harness:
    def __init__(self, max_reps: int = 10, max_lead_sources: int = 10, partitions: int = 2) -> None:
        self.registry = CollectorRegistry()
        self.subscriptions: dict[str, Any] = {}
        self.quotas: dict[str, Any] = {}
        self.deals = Aggregates(lambda: NOW, cohort_months=12)
        self.quota_totals = Aggregates(lambda: NOW, cohort_months=12)
        for partition in range(partitions):
            self.deals.assign(partition, ())
            self.quota_totals.assign(partition, ())
        self.processor = Processor(
            validator=Validator(FxTable("USD", {"EUR": Decimal("1.08")}), 4096, lambda: NOW),
            subscriptions=self.subscriptions,
            quotas=self.quotas,
            deals=self.deals,
            quota_totals=self.quota_totals,
            limits=Limits(max_reps=max_reps, max_lead_sources=max_lead_sources),
            metrics=PipelineMetrics(self.registry),
            wall_clock=NOW.timestamp,
        )
        self.offset = 0

    def send(
        self,
        kind: TopicKind,
        event: dict[str, Any],
        *,
        key: bytes | None,
        topic: str,
        source: str | None = None,
        partition: int = 0,
    ) -> Any:
        self.offset += 1
        message = Message(
            topic,
            partition,
            self.offset,
            int(NOW.timestamp() * 1000) - 2500,
            key,
            json.dumps(event).encode(),
        )
        return self.processor.process(kind, message, source_topic=source or topic)

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


def deal(sub: str = "s1", rep: str = "juan", event_id: str = "d1", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "subscription_id": sub,
        "customer_id": "c",
        "rep_id": rep,
        "closed_at": "2026-01-10T00:00:00Z",
        "mrr": "5000",
        "currency": "USD",
        **extra,
    }


def test_a_deal_is_applied_once_and_its_redelivery_is_a_duplicate() -> None:
    h = Harness()
    assert h.send(TopicKind.DEALS, deal(), key=b"s1", topic=DEALS) == Applied(Outcome.APPLIED)
    assert h.send(TopicKind.DEALS, deal(), key=b"s1", topic=DEALS) == Applied(Outcome.DUPLICATE)
    assert h.subscriptions["s1"]["partition"] == 0
    assert h.deals.snapshot().new_mrr == {("juan", "unknown", "2026-01"): Decimal("5000.00")}
    assert h.value("sales_events_consumed_total", topic=DEALS) == 2
    assert h.value("sales_events_applied_total", topic=DEALS) == 1
    assert h.value("sales_events_duplicate_total", topic=DEALS) == 1
    assert h.value("sales_processing_delay_seconds_sum", topic=DEALS) == 5.0
    assert h.value("sales_last_event_timestamp_seconds", topic=DEALS) == NOW.timestamp()


def test_a_wrongly_keyed_message_is_rekeyed_then_applied_under_its_source_topic() -> None:
    h = Harness()
    assert h.send(TopicKind.DEALS, deal(), key=None, topic=DEALS) == Rekey("s1")
    assert h.subscriptions == {}
    rerouted = h.send(
        TopicKind.DEALS, deal(), key=b"s1", topic="app-rekeyed-deals.won", source=DEALS, partition=1
    )
    assert rerouted == Applied(Outcome.APPLIED)
    assert h.subscriptions["s1"]["partition"] == 1
    assert h.value("sales_events_rekeyed_total", topic=DEALS) == 1
    # Consumed once (at the source), applied once (the re-routed copy).
    assert h.value("sales_events_consumed_total", topic=DEALS) == 1
    assert h.value("sales_events_applied_total", topic=DEALS) == 1


def test_quotas_are_keyed_by_rep() -> None:
    h = Harness()
    quota = {
        "event_id": "q1",
        "rep_id": "juan",
        "month": "2026-01",
        "amount": "100",
        "currency": "EUR",
    }
    assert h.send(TopicKind.QUOTAS, quota, key=b"miguel", topic=QUOTAS) == Rekey("juan")
    assert h.send(TopicKind.QUOTAS, quota, key=b"juan", topic=QUOTAS) == Applied(Outcome.APPLIED)
    assert h.quota_totals.snapshot().quota_mrr == {("juan", "2026-01"): Decimal("108.00")}


def test_invalid_input_is_rejected_with_its_reason() -> None:
    h = Harness()
    result = h.send(TopicKind.CANCELLATIONS, deal(), key=b"s1", topic=CANCELS)
    assert isinstance(result, Rejected) and result.rejection.reason is Reason.SCHEMA
    assert h.value("sales_events_rejected_total", topic=CANCELS, reason="schema") == 1


def test_a_clamped_cancellation_is_counted_once() -> None:
    h = Harness()
    h.send(TopicKind.DEALS, deal(), key=b"s1", topic=DEALS)
    cancel = {"event_id": "c1", "subscription_id": "s1", "cancelled_at": "2026-01-05T00:00:00Z"}
    assert h.send(TopicKind.CANCELLATIONS, cancel, key=b"s1", topic=CANCELS) == Applied(
        Outcome.APPLIED
    )
    h.send(TopicKind.DEALS, deal(event_id="d2", mrr="6000"), key=b"s1", topic=DEALS)
    assert h.value("sales_events_clamped_total", reason="effective_before_close") == 1


def test_the_rep_limit_rejects_new_reps_but_not_known_ones() -> None:
    h = Harness(max_reps=2)
    for n, rep in enumerate(["a", "b"]):
        h.send(TopicKind.DEALS, deal(f"s{n}", rep, f"d{n}"), key=f"s{n}".encode(), topic=DEALS)
    third = h.send(TopicKind.DEALS, deal("s9", "c", "d9"), key=b"s9", topic=DEALS)
    assert isinstance(third, Rejected)
    assert third.rejection.reason is Reason.CARDINALITY_LIMIT
    assert "RETAINED_MRR_MAX_REPS is 2" in third.rejection.detail
    known = h.send(TopicKind.DEALS, deal("s8", "a", "d8"), key=b"s8", topic=DEALS)
    assert known == Applied(Outcome.APPLIED)
    assert h.deals.rep_ids() == {"a", "b"}


def quota(rep: str, event_id: str, month: str = "2026-01") -> dict[str, Any]:
    return {"event_id": event_id, "rep_id": rep, "month": month, "amount": "100", "currency": "USD"}


def test_reps_named_by_quotas_count_towards_the_rep_limit() -> None:
    h = Harness(max_reps=2)
    h.send(TopicKind.DEALS, deal("s1", "a", "d1"), key=b"s1", topic=DEALS)
    # A quota of a rep with deals adds no rep; nor does a deal of a rep with a quota.
    assert h.send(TopicKind.QUOTAS, quota("a", "q1"), key=b"a", topic=QUOTAS) == Applied(
        Outcome.APPLIED
    )
    assert h.send(TopicKind.QUOTAS, quota("b", "q2"), key=b"b", topic=QUOTAS) == Applied(
        Outcome.APPLIED
    )
    assert h.send(TopicKind.DEALS, deal("s2", "b", "d2"), key=b"s2", topic=DEALS) == Applied(
        Outcome.APPLIED
    )
    invented = h.send(TopicKind.QUOTAS, quota("c", "q3"), key=b"c", topic=QUOTAS)
    assert isinstance(invented, Rejected)
    assert invented.rejection.detail == "rep_id 'c' would be number 3; RETAINED_MRR_MAX_REPS is 2"
    assert h.value("sales_events_rejected_total", topic=QUOTAS, reason="cardinality_limit") == 1
    assert ("c", "2026-01") not in h.quota_totals.snapshot().quota_mrr
    # Re-delivered, a known quota stays a duplicate.
    assert h.send(TopicKind.QUOTAS, quota("b", "q2"), key=b"b", topic=QUOTAS) == Applied(
        Outcome.DUPLICATE
    )


def test_a_redelivered_deal_is_a_duplicate_even_at_the_rep_limit() -> None:
    h = Harness(max_reps=2)
    h.send(TopicKind.DEALS, deal("s1", "a", "d1"), key=b"s1", topic=DEALS)
    # A correction moves s1 to rep b, and rep c fills the second place a left.
    h.send(TopicKind.DEALS, deal("s1", "b", "d2"), key=b"s1", topic=DEALS)
    h.send(TopicKind.DEALS, deal("s2", "c", "d3"), key=b"s2", topic=DEALS)
    assert h.deals.rep_ids() == {"b", "c"}
    redelivered = h.send(TopicKind.DEALS, deal("s1", "a", "d1"), key=b"s1", topic=DEALS)
    assert redelivered == Applied(Outcome.DUPLICATE)
    assert h.value("sales_events_duplicate_total", topic=DEALS) == 1


def test_writes_to_a_partition_still_recovering_reach_only_the_table() -> None:
    h = Harness(partitions=1)
    h.send(TopicKind.DEALS, deal(), key=b"s1", topic=DEALS, partition=3)
    assert "s1" in h.subscriptions
    assert h.deals.snapshot().new_mrr == {}


def test_the_lead_source_limit_names_its_setting() -> None:
    h = Harness(max_lead_sources=1)
    h.send(TopicKind.DEALS, deal("s1", lead_source="web"), key=b"s1", topic=DEALS)
    second = h.send(TopicKind.DEALS, deal("s2", lead_source="ads"), key=b"s2", topic=DEALS)
    assert isinstance(second, Rejected)
    assert second.rejection.detail == (
        "lead_source 'ads' would be number 2; RETAINED_MRR_MAX_LEAD_SOURCES is 1"
    )
