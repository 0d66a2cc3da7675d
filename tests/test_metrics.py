"""The business series of a scrape, and the /metrics text (private registries, no server)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from stream.core.aggregates import Aggregates, Snapshot
from stream.core.quotas import apply_quota
from stream.core.subscription import apply_cancellation, apply_deal
from stream.metrics import RetentionCollector, render
from tests.core.builders import cancellation, deal, quota

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def registry_for(deals: Aggregates, quotas: Aggregates) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(RetentionCollector.now(deals, quotas))
    return registry


def scrape(deals: Aggregates, quotas: Aggregates) -> str:
    return render(RetentionCollector.now(deals, quotas)).decode()


def test_families_labels_and_values() -> None:
    deals, quotas = Aggregates(lambda: NOW, 12), Aggregates(lambda: NOW, 12)
    deals.assign(0, ())
    quotas.assign(0, ())
    sub, _ = apply_deal(None, deal("s1", rep_name="Juan P."), 0)
    deals.replace(0, None, sub)
    cancelled, _ = apply_cancellation(sub, cancellation("s1", effective_at="2026-02-20"), 0)
    deals.replace(0, sub, cancelled)
    q, _ = apply_quota(None, quota(), 0)
    quotas.replace_quota(0, None, q)
    registry = registry_for(deals, quotas)

    labels = {"rep_id": "juan", "lead_source": "outbound", "cohort": "2026-01"}
    value = registry.get_sample_value
    assert value("sales_new_mrr", labels) == 5000
    assert value("sales_deals_won", labels) == 1
    assert value("sales_retained_mrr", labels) == 0  # exported at zero: the ratio needs it
    assert value("sales_deals_retained", labels) == 0
    assert value("sales_scheduled_churn_mrr", labels) == 0
    assert value("sales_churned_mrr", {**labels, "tenure": "31-90d"}) == 5000
    assert value("sales_deals_churned", {**labels, "tenure": "31-90d"}) == 1
    assert value("sales_survival_base_mrr", {**labels, "horizon": "90d"}) == 5000
    assert value("sales_survival_retained_mrr", {**labels, "horizon": "90d"}) == 0
    assert value("sales_survival_retained_mrr", {**labels, "horizon": "30d"}) == 5000
    assert value("sales_survival_base_mrr", {**labels, "horizon": "365d"}) is None
    assert value("sales_quota_mrr", {"rep_id": "juan", "cohort": "2026-01"}) == 90000
    assert value("sales_cohort_age_months", {"cohort": "2026-07"}) == 0
    assert value("sales_cohort_age_months", {"cohort": "2025-08"}) == 11
    assert value("sales_cohort_age_months", {"cohort": "2025-07"}) is None
    assert value("sales_rep_info", {"rep_id": "juan", "rep_name": "Juan P."}) == 1
    assert value("sales_cancellations_pending") == 0


def test_a_correction_leaves_no_stale_series() -> None:
    deals, quotas = Aggregates(lambda: NOW, 12), Aggregates(lambda: NOW, 12)
    deals.assign(0, ())
    first, _ = apply_deal(None, deal("s1", rep_id="juan"), 0)
    deals.replace(0, None, first)
    assert 'rep_id="juan"' in scrape(deals, quotas)

    moved, _ = apply_deal(first, deal("s1", event_id="fix", rep_id="miguel"), 0)
    deals.replace(0, first, moved)
    text = scrape(deals, quotas)
    assert 'rep_id="juan"' not in text
    assert 'sales_new_mrr{cohort="2026-01",lead_source="outbound",rep_id="miguel"} 5000.0' in text


def test_the_text_is_of_the_snapshot_not_of_later_events() -> None:
    deals, quotas = Aggregates(lambda: NOW, 12), Aggregates(lambda: NOW, 12)
    deals.assign(0, ())
    first, _ = apply_deal(None, deal("s1", rep_id="juan"), 0)
    deals.replace(0, None, first)
    business = RetentionCollector.now(deals, quotas)
    # An event the loop applies while another thread renders the scrape taken before it.
    second, _ = apply_deal(None, deal("s2", rep_id="miguel"), 0)
    deals.replace(0, None, second)

    text = render(business).decode()
    assert 'sales_new_mrr{cohort="2026-01",lead_source="outbound",rep_id="juan"} 5000.0' in text
    assert 'rep_id="miguel"' not in text


def test_a_later_month_that_holds_deals_exports_its_quota() -> None:
    # SPEC 3.10: the month after the current one is exported once it holds a deal (closed
    # up to a day ahead), quotas included, though deals and quotas are separate aggregates.
    now = datetime(2026, 7, 31, 23, tzinfo=UTC)
    deals, quotas = Aggregates(lambda: now, 12), Aggregates(lambda: now, 12)
    deals.assign(0, ())
    quotas.assign(0, ())
    early, _ = apply_deal(None, deal("s1", closed_at="2026-08-01T05:00:00+00:00"), 0)
    deals.replace(0, None, early)
    for n, month in enumerate(["2026-07", "2026-08", "2026-09"]):
        q, _ = apply_quota(None, quota(month=month, event_id=f"q{n}"), 0)
        quotas.replace_quota(0, None, q)

    text = scrape(deals, quotas)
    assert 'sales_quota_mrr{cohort="2026-07",rep_id="juan"} 90000.0' in text
    assert 'sales_quota_mrr{cohort="2026-08",rep_id="juan"} 90000.0' in text
    assert 'cohort="2026-09"' not in text
    assert 'sales_cohort_age_months{cohort="2026-08"} -1.0' in text


label_values = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
amounts = st.decimals(
    min_value=-Decimal(10**12), max_value=Decimal(10**12), places=2, allow_nan=False
)
key3 = st.tuples(label_values, label_values, label_values)
key4 = st.tuples(label_values, label_values, label_values, label_values)


snapshots = st.builds(
    Snapshot,
    as_of=st.just(NOW),
    new_mrr=st.dictionaries(key3, amounts, max_size=6),
    deals_won=st.dictionaries(key3, st.integers(0, 10**9), max_size=6),
    retained_mrr=st.dictionaries(key3, amounts, max_size=6),
    deals_retained=st.dictionaries(key3, st.integers(0, 10**9), max_size=6),
    scheduled_churn_mrr=st.dictionaries(key3, amounts, max_size=6),
    churned_mrr=st.dictionaries(key4, amounts, max_size=6),
    deals_churned=st.dictionaries(key4, st.integers(0, 10**9), max_size=6),
    survival_base_mrr=st.dictionaries(key4, amounts, max_size=6),
    survival_retained_mrr=st.dictionaries(key4, amounts, max_size=6),
    quota_mrr=st.dictionaries(st.tuples(label_values, label_values), amounts, max_size=4),
    cohort_age_months=st.dictionaries(label_values, st.integers(-1, 600), max_size=4),
    rep_names=st.dictionaries(label_values, label_values, max_size=4),
)


@settings(max_examples=200)
@given(deals=snapshots, quotas=snapshots, pending=st.integers(0, 10**6))
def test_the_fast_text_is_what_prometheus_client_writes(
    deals: Snapshot, quotas: Snapshot, pending: int
) -> None:
    # Label values with quotes, backslashes, newlines and any Unicode; large amounts.
    business = RetentionCollector(deals, quotas, pending)
    registry = CollectorRegistry()
    registry.register(business)
    assert render(business) == generate_latest(registry)
