"""SPEC section 7: Juan and Miguel as of 2026-07-01."""

from __future__ import annotations

from decimal import Decimal

from stream.core.aggregates import Aggregates
from stream.core.quotas import apply_quota
from stream.core.subscription import Subscription, apply_cancellation, apply_deal
from tests.core.builders import at, cancellation, deal, quota

AS_OF = at("2026-07-01T00:00")


def _subscriptions() -> list[Subscription]:
    states = []
    for n in range(20):
        state, _ = apply_deal(None, deal(f"juan-{n}", closed_at="2026-01-10"), 0)
        if n < 10:
            state, _ = apply_cancellation(
                state, cancellation(f"juan-{n}", effective_at="2026-02-20"), 0
            )
        states.append(state)
    for n in range(14):
        miguel = deal(
            f"miguel-{n}",
            rep_id="miguel",
            rep_name="Miguel",
            lead_source="referral",
            closed_at="2026-01-12",
        )
        state, _ = apply_deal(None, miguel, 0)
        if n == 0:
            state, _ = apply_cancellation(
                state, cancellation(f"miguel-{n}", effective_at="2026-06-01"), 0
            )
        states.append(state)
    return states


def test_worked_example() -> None:
    aggregates = Aggregates(lambda: AS_OF, cohort_months=12)
    quotas = [
        apply_quota(None, quota(rep, "2026-01", "90000", f"q-{rep}"), 0)[0]
        for rep in ("juan", "miguel")
    ]
    aggregates.assign(0, _subscriptions(), quotas)
    snap = aggregates.snapshot()

    juan, miguel = ("juan", "outbound", "2026-01"), ("miguel", "referral", "2026-01")
    assert snap.as_of == AS_OF
    assert snap.new_mrr == {juan: Decimal(100000), miguel: Decimal(70000)}
    assert snap.deals_won == {juan: 20, miguel: 14}
    assert snap.retained_mrr == {juan: Decimal(50000), miguel: Decimal(65000)}
    assert snap.deals_retained == {juan: 10, miguel: 13}
    assert snap.scheduled_churn_mrr == {juan: 0, miguel: 0}
    assert snap.churned_mrr == {(*juan, "31-90d"): 50000, (*miguel, "91-180d"): 5000}
    assert snap.deals_churned == {(*juan, "31-90d"): 10, (*miguel, "91-180d"): 1}
    assert snap.survival_base_mrr[(*juan, "90d")] == 100000
    assert snap.survival_retained_mrr[(*juan, "90d")] == 50000
    assert snap.survival_base_mrr[(*miguel, "90d")] == 70000
    assert snap.survival_retained_mrr[(*miguel, "90d")] == 70000
    # 180 days after 2026-01-10 is 2026-07-09: not yet old enough to tell.
    assert (*juan, "180d") not in snap.survival_base_mrr
    assert snap.quota_mrr == {("juan", "2026-01"): 90000, ("miguel", "2026-01"): 90000}
    assert snap.cohort_age_months["2026-01"] == 6
    assert snap.cohort_age_months["2026-07"] == 0
    assert len(snap.cohort_age_months) == 12
    assert snap.rep_names == {"juan": "Juan", "miguel": "Miguel"}

    # The table of section 7: attainment and retained / quota.
    assert round(snap.new_mrr[juan] / snap.quota_mrr[("juan", "2026-01")] * 100) == 111
    assert round(snap.new_mrr[miguel] / snap.quota_mrr[("miguel", "2026-01")] * 100) == 78
    assert round(snap.retained_mrr[juan] / snap.quota_mrr[("juan", "2026-01")] * 100) == 56
    assert round(snap.retained_mrr[miguel] / snap.quota_mrr[("miguel", "2026-01")] * 100) == 72
