"""End to end: the real broker, `retained-mrr worker` as a subprocess and the real
`prometheus` scraping it with the project's rules (issue 5).

The event set is SPEC section 7 (Juan and Miguel), a simulated year of other reps and
one of each edge case the boards chart (duplicate, null key, clamped, scheduled and
pending cancellations, invalid messages). It is published in two batches: the second
arrives while Prometheus scrapes, because a counter Prometheus first sees at its final
value has no `rate()`, so rate panels and the 5m rejection share would stay empty.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from stream.config import Settings
from stream.simulate import (
    DEFAULT_REPS,
    Record,
    SimConfig,
    Simulator,
    TopicKind,
    format_time,
    juan_and_miguel_events,
    month_start,
    to_record,
)
from stream.simulate_kafka import publish_records, topic_for
from stream.topics import create_topics
from tests.support.kafka import unique
from tests.support.prometheus import (
    PrometheusServer,
    Sample,
    dashboard_queries,
    recorded_series,
    run_prometheus,
)
from tests.support.worker import Series, WorkerProcess, counter

pytestmark = pytest.mark.prometheus

logger = logging.getLogger(__name__)

EXAMPLE_COHORT = "2026-01"
# Juan and Miguel only get the SPEC example's deals, so their figures stay exact.
SIMULATED_REPS = tuple(rep for rep in DEFAULT_REPS if rep.rep_id not in {"juan", "miguel"})
EDGE_REP = "e2e-edge"
# New MRR each edge-case batch closes for EDGE_REP: 5000 + 3000 + 4000 + 6000 + 1200 EUR/12 * 1.08.
EDGE_NEW_MRR_PER_BATCH = 18108
FX_RATES = "EUR=1.08,GBP=1.27"
TOLERANCE = 1e-9
DATA_TIMEOUT = 30.0


def _months_back_to(cohort: str, now: datetime) -> int:
    year, month = map(int, cohort.split("-"))
    return (now.year - year) * 12 + now.month - month + 1


def _edge_cases(now: datetime, batch: str, quota: int) -> list[Record]:
    """One of each case the boards chart besides plain deals, for EDGE_REP this month."""
    closed_at = max(now - timedelta(hours=1), month_start(now))
    earlier = format_time(closed_at - timedelta(days=3))

    def deal(name: str, **money: str) -> dict[str, object]:
        subscription_id = f"{EDGE_REP}-{batch}-{name}"
        return {
            "event_id": f"{subscription_id}-won",
            "type": "deal_won",
            "subscription_id": subscription_id,
            "customer_id": f"customer-{subscription_id}",
            "rep_id": EDGE_REP,
            "lead_source": "e2e",
            "closed_at": format_time(closed_at),
            "currency": "USD",
            **money,
        }

    def cancellation(name: str, **times: str) -> dict[str, object]:
        subscription_id = f"{EDGE_REP}-{batch}-{name}"
        return {
            "event_id": f"{subscription_id}-cancelled",
            "type": "subscription_cancelled",
            "subscription_id": subscription_id,
            **times,
        }

    def quota_set(amount: int, month: str) -> dict[str, object]:
        return {
            "event_id": f"{EDGE_REP}-{batch}-quota-{month}",
            "type": "quota_set",
            "rep_id": EDGE_REP,
            "month": month,
            "amount": str(amount),
            "currency": "USD",
        }

    def invalid(kind: TopicKind, raw: bytes) -> Record:
        return Record(kind, f"{EDGE_REP}-{batch}-invalid", raw, None, invalid=True)

    duplicated = to_record(deal("duplicated", mrr="5000"))
    return [
        to_record(quota_set(quota, now.strftime("%Y-%m"))),
        duplicated,
        duplicated,
        to_record(deal("unkeyed", mrr="3000"), null_key=True),
        to_record(deal("clamped", mrr="4000")),
        to_record(cancellation("clamped", cancelled_at=earlier, effective_at=earlier)),
        to_record(deal("scheduled", mrr="6000")),
        to_record(
            cancellation(
                "scheduled",
                cancelled_at=format_time(closed_at),
                effective_at=format_time(now + timedelta(days=30)),
            )
        ),
        to_record(deal("euro", amount="1200", billing_period="year", currency="EUR")),
        to_record(cancellation("orphan", cancelled_at=format_time(closed_at))),
        invalid("deals", b'{"event_id": "truncated'),
        invalid("deals", json.dumps(deal("yen", mrr="100", currency="JPY")).encode()),
        invalid("deals", json.dumps(quota_set(quota, now.strftime("%Y-%m"))).encode()),
        invalid("cancellations", json.dumps(cancellation("undated")).encode()),
        invalid("quotas", json.dumps(quota_set(quota, "2026-13")).encode()),
    ]


def history(now: datetime) -> list[Record]:
    example = [to_record(event) for event in juan_and_miguel_events(now)]
    simulator = Simulator(SimConfig(reps=SIMULATED_REPS), seed=5)
    return [*example, *simulator.history(now, months=12), *_edge_cases(now, "history", 50000)]


def live(now: datetime) -> list[Record]:
    # A later quota for the same month replaces the first one (SPEC 3.9).
    return _edge_cases(now, "live", 40000)


@dataclass(frozen=True)
class Accounting:
    """What the worker must report once it has processed `records`."""

    consumed: dict[str, int]
    rejected: int
    duplicate: int
    rekeyed: int
    pending: int

    @classmethod
    def of(cls, records: Iterable[Record], settings: Settings) -> Accounting:
        consumed: Counter[str] = Counter()
        rejected = duplicate = rekeyed = 0
        seen: set[object] = set()
        dealt: set[object] = set()
        cancelled: set[object] = set()
        for record in records:
            consumed[topic_for(record.kind, settings)] += 1
            if record.invalid or record.event is None:
                rejected += 1
                continue
            event = record.event
            rekeyed += record.key is None
            duplicate += event["event_id"] in seen
            seen.add(event["event_id"])
            if event["type"] == "deal_won":
                dealt.add(event["subscription_id"])
            elif event["type"] == "subscription_cancelled":
                cancelled.add(event["subscription_id"])
        return cls(dict(consumed), rejected, duplicate, rekeyed, len(cancelled - dealt))

    def reached_by(self, samples: dict[Series, float]) -> bool:
        """Every message consumed and settled (applied, duplicate or rejected)."""
        return all(
            counter(samples, "sales_events_consumed_total", topic=topic) == count
            and sum(
                counter(samples, f"sales_events_{outcome}_total", topic=topic)
                for outcome in ("applied", "duplicate", "rejected")
            )
            == count
            for topic, count in self.consumed.items()
        )


@dataclass(frozen=True)
class Stack:
    prometheus: PrometheusServer
    expected: Accounting
    metrics: dict[Series, float]  # the worker's /metrics once it settled everything


def _elapsed(since: float) -> float:
    return time.monotonic() - since


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e")
    now = datetime.now(UTC).replace(microsecond=0)
    name = unique("e2e")
    env = {
        "RETAINED_MRR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "RETAINED_MRR_APP_ID": name,
        "RETAINED_MRR_TOPIC_DEALS": f"{name}.deals.won",
        "RETAINED_MRR_TOPIC_CANCELLATIONS": f"{name}.subscriptions.cancelled",
        "RETAINED_MRR_TOPIC_QUOTAS": f"{name}.sales.quotas",
        "RETAINED_MRR_TOPIC_DEAD_LETTER": f"{name}.dead-letter",
        "RETAINED_MRR_PARTITIONS": "2",
        "RETAINED_MRR_STORE": "memory://",
        "RETAINED_MRR_DATA_DIR": str(tmp / "data"),
        "RETAINED_MRR_FX_RATES": FX_RATES,
        # The example's cohort must stay exported however long after it this runs.
        "RETAINED_MRR_COHORT_MONTHS": str(max(12, _months_back_to(EXAMPLE_COHORT, now))),
    }
    settings = Settings.from_env(env)
    assert not create_topics(settings).errors
    first, second = history(now), live(now)
    publish_records(first, settings)

    started = time.monotonic()
    worker = WorkerProcess(env, tmp / "worker.log").start()
    try:
        worker.wait_until(
            Accounting.of(first, settings).reached_by, timeout=90, what="the history processed"
        )
        logger.info(
            "worker started and settled %d messages in %.1fs", len(first), _elapsed(started)
        )
        with run_prometheus(
            tmp_path_factory.mktemp("prometheus"), [f"127.0.0.1:{worker.port}"]
        ) as prometheus:
            # The second batch must raise counters Prometheus has already seen.
            _wait_until_scraped(prometheus, len(first))
            expected = Accounting.of([*first, *second], settings)
            started = time.monotonic()
            publish_records(second, settings)
            metrics = worker.wait_until(expected.reached_by, timeout=60, what="the live batch")
            logger.info("worker settled the live batch %.1fs after publishing", _elapsed(started))
            # Tests query recorded series at once: they must already include the live batch.
            _wait_until_scraped(prometheus, sum(expected.consumed.values()))
            prometheus.wait_for_rule_evaluations()
            yield Stack(prometheus, expected, metrics)
    finally:
        worker.stop()


def _wait_until_scraped(prometheus: PrometheusServer, consumed: int) -> None:
    prometheus.wait_for(
        "sum(sales_events_consumed_total)", lambda s: bool(s) and s[0].value == consumed
    )


def _without_data(
    prometheus: PrometheusServer, queries: dict[str, str], timeout: float = DATA_TIMEOUT
) -> dict[str, str]:
    """The queries still empty after `timeout`: rules evaluate and scrapes land each second."""
    deadline = time.monotonic() + timeout
    empty = dict(queries)
    while empty and time.monotonic() < deadline:
        empty = {name: expr for name, expr in empty.items() if not _has_data(prometheus, expr)}
        if empty:
            time.sleep(0.5)
    return empty


def _has_data(prometheus: PrometheusServer, expr: str) -> bool:
    """Grafana draws nothing for NaN, e.g. a quantile of a histogram that did not move."""
    return any(not math.isnan(sample.value) for sample in prometheus.query(expr))


def _by_rep(samples: list[Sample]) -> dict[str, float]:
    return {sample.labels["rep_id"]: sample.value for sample in samples}


def _assert_close(actual: dict[str, float], expected: dict[str, float]) -> None:
    assert actual.keys() == expected.keys(), actual
    for key, value in expected.items():
        assert abs(actual[key] - value) <= TOLERANCE, (key, actual[key], value)


def test_worker_settles_every_message(stack: Stack) -> None:
    # Per-topic consumed and settled totals already gated the fixture; these split them.
    metrics, expected = stack.metrics, stack.expected
    assert counter(metrics, "sales_events_rejected_total") == expected.rejected
    assert counter(metrics, "sales_events_duplicate_total") == expected.duplicate
    assert metrics[("sales_cancellations_pending", frozenset())] == expected.pending
    reasons = {
        dict(labels)["reason"] for name, labels in metrics if name == "sales_events_rejected_total"
    }
    assert {"invalid_json", "schema", "wrong_topic", "unsupported_currency"} <= reasons
    # Only the edge cases clamp: one per batch.
    assert counter(metrics, "sales_events_clamped_total") == 2
    assert counter(metrics, "sales_events_rekeyed_total") == expected.rekeyed


def test_every_dashboard_query_returns_data(stack: Stack) -> None:
    queries = {
        f"{q.dashboard_uid} / {q.panel_title} / {q.ref_id}": q.expr for q in dashboard_queries()
    }
    empty = _without_data(stack.prometheus, queries)
    assert not empty, f"panels without data: {sorted(empty)}"


def test_every_recording_rule_returns_data(stack: Stack) -> None:
    empty = _without_data(stack.prometheus, {name: name for name in recorded_series()})
    assert not empty, f"recorded series without data: {sorted(empty)}"


def test_spec_example_through_the_recording_rules(stack: Stack) -> None:
    cohort = f'cohort="{EXAMPLE_COHORT}"'

    def query(expr: str) -> dict[str, float]:
        values = _by_rep(stack.prometheus.query(expr))
        return {rep: value for rep, value in values.items() if rep in {"juan", "miguel"}}

    _assert_close(
        query(f"sum by (rep_id) (sales_churned_mrr{{{cohort}, tenure=~'31-90d|91-180d'}})"),
        {"juan": 50000, "miguel": 5000},
    )
    retention = {"juan": 50000 / 100000, "miguel": 65000 / 70000}
    _assert_close(query(f"rep_id_cohort:sales_retention:ratio{{{cohort}}}"), retention)
    _assert_close(
        query(
            f"sum by (rep_id) (sales_retained_mrr{{{cohort}}})"
            f" / sum by (rep_id) (sales_new_mrr{{{cohort}}})"
        ),
        retention,
    )

    survival = {"juan": 0.5, "miguel": 1.0}
    _assert_close(
        query(
            f'sum by (rep_id) (sales_survival_retained_mrr{{{cohort}, horizon="90d"}})'
            f' / sum by (rep_id) (sales_survival_base_mrr{{{cohort}, horizon="90d"}})'
        ),
        survival,
    )
    # The rule sums over every cohort; Juan and Miguel have January deals only.
    _assert_close(query('rep_id_horizon:sales_survival:ratio{horizon="90d"}'), survival)

    _assert_close(
        query(
            f"rep_id_cohort:sales_new_mrr:sum{{{cohort}}}"
            f" / rep_id_cohort:sales_quota_mrr:sum{{{cohort}}}"
        ),
        {"juan": 100000 / 90000, "miguel": 70000 / 90000},
    )
    _assert_close(
        query(f"rep_id_cohort:sales_retention_adjusted_attainment:ratio{{{cohort}}}"),
        {"juan": 50000 / 90000, "miguel": 65000 / 90000},
    )


def test_edge_cases_reach_the_current_month_rules(stack: Stack) -> None:
    prometheus = stack.prometheus
    rep = f'rep_id="{EDGE_REP}"'
    # Both batches' deals against the later quota of 40,000, which replaced 50,000.
    [attainment] = prometheus.query(f"rep_id:sales_quota_attainment:ratio{{{rep}}}")
    assert abs(attainment.value - 2 * EDGE_NEW_MRR_PER_BATCH / 40000) <= TOLERANCE
    [scheduled] = prometheus.query(f"rep_id:sales_scheduled_churn_mrr:sum{{{rep}}}")
    assert scheduled.value == 2 * 6000
    # A cancellation effective before the close churns at the close: tenure 0-30d.
    [early] = prometheus.query(f"rep_id:sales_early_churned_mrr:sum{{{rep}}}")
    assert early.value == 2 * 4000


def test_every_rule_evaluates_without_error(stack: Stack) -> None:
    groups = stack.prometheus.api("/api/v1/rules")["groups"]
    unhealthy = {
        rule["name"]: rule.get("lastError")
        for group in groups
        for rule in group["rules"]
        if rule["health"] != "ok"
    }
    assert not unhealthy


def test_worker_is_scraped(stack: Stack) -> None:
    job = 'job="retained-mrr"'
    [up] = stack.prometheus.query(f"up{{{job}}}")
    assert up.value == 1
    [duration] = stack.prometheus.query(f"scrape_duration_seconds{{{job}}}")
    [samples] = stack.prometheus.query(f"scrape_samples_scraped{{{job}}}")
    logger.info("scrape of /metrics: %.4fs, %d samples", duration.value, samples.value)
