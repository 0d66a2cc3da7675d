"""Expected `/metrics` business series for a published stream, from the reference model."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest

from stream.config import Settings
from stream.core.money import FxTable
from stream.metrics import RetentionCollector
from stream.validation import Rejection, TopicKind, Validator, to_facts
from tests.core.reference import Reference
from tests.support.streams import Record
from tests.support.worker import Series, parse_metrics

BUSINESS_PREFIXES = (
    "sales_new_mrr",
    "sales_deals_",
    "sales_retained_mrr",
    "sales_scheduled_churn_mrr",
    "sales_churned_mrr",
    "sales_survival_",
    "sales_quota_mrr",
    "sales_cohort_age_months",
    "sales_rep_info",
    "sales_cancellations_pending",
)


def business(samples: dict[Series, float]) -> dict[Series, float]:
    return {k: v for k, v in samples.items() if k[0].startswith(BUSINESS_PREFIXES)}


def reference_of(records: Iterable[Record], settings: Settings) -> Reference:
    """Replay the valid records, in publishing order, into the naive reference model."""
    fx = FxTable(settings.base_currency, settings.fx_rates)
    validator = Validator(fx=fx, max_message_bytes=settings.max_message_bytes)
    reference = Reference()
    for record in records:
        if not record.valid:
            continue
        event = validator.decode(record.value, TopicKind(record.kind))
        assert not isinstance(event, Rejection), f"{record} was meant to be valid: {event}"
        reference.apply(to_facts(event, fx))
    return reference


def expected_series(
    reference: Reference, as_of: datetime, cohort_months: int
) -> dict[Series, float]:
    """The business series a correct fleet exports at `as_of`, through the real collector
    (so label names and zero-suppression are those of the exposition)."""
    snapshot = reference.snapshot(as_of, cohort_months)
    registry = CollectorRegistry()
    registry.register(RetentionCollector(snapshot, snapshot, reference.pending()))
    return business(parse_metrics(generate_latest(registry).decode()))
