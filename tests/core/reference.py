"""A deliberately naive reference model of SPEC section 3, written apart from the core.

It replays an event history into plain dicts and computes every snapshot field by
brute force over all subscriptions, so the incremental core can be checked against it.
It shares only the input fact types and the Snapshot container with the core.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from stream.core.facts import CancellationFacts, DealFacts, QuotaFacts
from stream.core.snapshot import Snapshot

Event = DealFacts | CancellationFacts | QuotaFacts

K3 = tuple[str, str, str]  # rep_id, lead_source, cohort
K4 = tuple[str, str, str, str]  # + tenure or horizon

HORIZON_DAYS = {"30d": 30, "90d": 90, "180d": 180, "365d": 365}


def month_of(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m")


def months_between(earlier: str, later: str) -> int:
    (y1, m1), (y2, m2) = (map(int, earlier.split("-")), map(int, later.split("-")))
    return (y2 - y1) * 12 + (m2 - m1)


def months_back(month: str, count: int) -> list[str]:
    """`count` months ending with `month`, oldest first."""
    year, mon = map(int, month.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


def tenure(days: int) -> str:
    if days <= 30:
        return "0-30d"
    if days <= 90:
        return "31-90d"
    if days <= 180:
        return "91-180d"
    return "181d+"


@dataclass
class _Sub:
    seen: set[str] = field(default_factory=set)
    deal: DealFacts | None = None
    cancel: CancellationFacts | None = None


@dataclass
class _Quota:
    seen: set[str] = field(default_factory=set)
    amount: Decimal | None = None


class Reference:
    def __init__(self) -> None:
        self.subs: dict[str, _Sub] = defaultdict(_Sub)
        self.quotas: dict[tuple[str, str], _Quota] = defaultdict(_Quota)

    def apply(self, event: Event) -> bool:
        """True when the event changed state (not a duplicate)."""
        if isinstance(event, QuotaFacts):
            quota = self.quotas[(event.rep_id, event.month)]
            if event.event_id in quota.seen:
                return False
            quota.seen.add(event.event_id)
            quota.amount = event.amount
            return True
        sub = self.subs[event.subscription_id]
        if event.event_id in sub.seen:
            return False
        sub.seen.add(event.event_id)
        if isinstance(event, DealFacts):
            sub.deal = event
        else:
            sub.cancel = event
        return True

    def pending(self) -> int:
        return sum(1 for s in self.subs.values() if s.cancel is not None and s.deal is None)

    def rep_ids(self) -> set[str]:
        reps = {s.deal.rep_id for s in self.subs.values() if s.deal is not None}
        return reps | {rep for (rep, _), q in self.quotas.items() if q.amount is not None}

    def lead_sources(self) -> set[str]:
        return {s.deal.lead_source for s in self.subs.values() if s.deal is not None}

    def snapshot(self, as_of: datetime, cohort_months: int) -> Snapshot:
        current = month_of(as_of)
        deals = [(s.deal, s.cancel) for s in self.subs.values() if s.deal is not None]
        future = {month_of(d.closed_at) for d, _ in deals if month_of(d.closed_at) > current}
        exported = set(months_back(current, cohort_months)) | future

        zero = Decimal(0)
        new: dict[K3, Decimal] = defaultdict(lambda: zero)
        won: dict[K3, int] = defaultdict(int)
        retained: dict[K3, Decimal] = defaultdict(lambda: zero)
        n_retained: dict[K3, int] = defaultdict(int)
        scheduled: dict[K3, Decimal] = defaultdict(lambda: zero)
        churned: dict[K4, Decimal] = defaultdict(lambda: zero)
        n_churned: dict[K4, int] = defaultdict(int)
        base: dict[K4, Decimal] = defaultdict(lambda: zero)
        survived: dict[K4, Decimal] = defaultdict(lambda: zero)
        for deal, cancel in deals:
            cohort = month_of(deal.closed_at)
            if cohort not in exported:
                continue
            key: K3 = (deal.rep_id, deal.lead_source, cohort)
            m = deal.mrr
            new[key] += m
            won[key] += 1
            churn = None if cancel is None else max(cancel.effective_at, deal.closed_at)
            # Touch the three so a fully churned key still shows zeros.
            retained[key] += 0
            n_retained[key] += 0
            scheduled[key] += 0
            if churn is not None and churn <= as_of:
                bucket = tenure((churn - deal.closed_at) // timedelta(days=1))
                churned[(*key, bucket)] += m
                n_churned[(*key, bucket)] += 1
            else:
                retained[key] += m
                n_retained[key] += 1
                if churn is not None:
                    scheduled[key] += m
            for horizon, days in HORIZON_DAYS.items():
                end = deal.closed_at + timedelta(days=days)
                if end <= as_of:
                    base[(*key, horizon)] += m
                    survived[(*key, horizon)] += m if churn is None or not churn < end else 0

        quota_mrr = {
            (rep, month): q.amount
            for (rep, month), q in self.quotas.items()
            if q.amount is not None and month in exported
        }
        name_counts = Counter((d.rep_id, d.rep_name) for d, _ in deals if d.rep_name is not None)
        rep_names = {}
        for rep in {rep for rep, _ in name_counts}:
            ranked = sorted((-n, name) for (r, name), n in name_counts.items() if r == rep)
            rep_names[rep] = ranked[0][1]
        return Snapshot(
            as_of=as_of,
            new_mrr=dict(new),
            deals_won=dict(won),
            retained_mrr=dict(retained),
            deals_retained=dict(n_retained),
            scheduled_churn_mrr=dict(scheduled),
            churned_mrr=dict(churned),
            deals_churned=dict(n_churned),
            survival_base_mrr=dict(base),
            survival_retained_mrr=dict(survived),
            quota_mrr=quota_mrr,
            cohort_age_months={c: months_between(c, current) for c in exported},
            rep_names=rep_names,
        )
