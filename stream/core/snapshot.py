"""The business series a worker exports at one as-of time (SPEC 3.10, section 4)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from stream.core.calendar import add_months, cohort_of, exported_cohorts_floor, month_index
from stream.core.contribution import Family
from stream.core.store import SeriesStore

__all__ = ["Snapshot", "build_snapshot"]

Key3 = tuple[str, str, str]  # rep_id, lead_source, cohort
Key4 = tuple[str, str, str, str]  # + tenure or horizon

ZERO = Decimal(0)


@dataclass(frozen=True)
class Snapshot:
    as_of: datetime
    new_mrr: Mapping[Key3, Decimal] = field(default_factory=dict)
    deals_won: Mapping[Key3, int] = field(default_factory=dict)
    retained_mrr: Mapping[Key3, Decimal] = field(default_factory=dict)
    deals_retained: Mapping[Key3, int] = field(default_factory=dict)
    scheduled_churn_mrr: Mapping[Key3, Decimal] = field(default_factory=dict)
    churned_mrr: Mapping[Key4, Decimal] = field(default_factory=dict)
    deals_churned: Mapping[Key4, int] = field(default_factory=dict)
    survival_base_mrr: Mapping[Key4, Decimal] = field(default_factory=dict)
    survival_retained_mrr: Mapping[Key4, Decimal] = field(default_factory=dict)
    quota_mrr: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    cohort_age_months: Mapping[str, int] = field(default_factory=dict)
    rep_names: Mapping[str, str] = field(default_factory=dict)


def _most_common_names(counts: Counter[tuple[str, str]]) -> dict[str, str]:
    best: dict[str, tuple[int, str]] = {}
    for (rep_id, name), count in counts.items():
        rank = (-count, name)
        if rep_id not in best or rank < best[rep_id]:
            best[rep_id] = rank
    return {rep_id: name for rep_id, (_, name) in best.items()}


def build_snapshot(
    as_of: datetime,
    cohort_months: int,
    total: SeriesStore,
    rep_name_counts: Counter[tuple[str, str]],
    cohorts: Iterable[str] = (),
) -> Snapshot:
    """The exported series of `total` (the partitions' sum, already advanced to `as_of`);
    `cohorts` holds months exported besides the window and the later months of `total`."""
    floor = exported_cohorts_floor(as_of, cohort_months)
    current = cohort_of(as_of)
    new_mrr: dict[Key3, Decimal] = {}
    deals_won: dict[Key3, int] = {}
    retained_mrr: dict[Key3, Decimal] = {}
    deals_retained: dict[Key3, int] = {}
    scheduled: dict[Key3, Decimal] = {}
    churned_mrr: dict[Key4, Decimal] = {}
    deals_churned: dict[Key4, int] = {}
    base: dict[Key4, Decimal] = {}
    survived: dict[Key4, Decimal] = {}
    for cohort, (family, rep_id, source, extra), mrr, count in total.series(floor):
        match family:
            case Family.NEW:
                new_mrr[rep_id, source, cohort] = mrr
                deals_won[rep_id, source, cohort] = count
            case Family.RETAINED:
                retained_mrr[rep_id, source, cohort] = mrr
                deals_retained[rep_id, source, cohort] = count
            case Family.SCHEDULED:
                scheduled[rep_id, source, cohort] = mrr
            case Family.CHURNED:
                churned_mrr[rep_id, source, cohort, extra] = mrr
                deals_churned[rep_id, source, cohort, extra] = count
            case Family.BASE:
                base[rep_id, source, cohort, extra] = mrr
            case Family.SURVIVED:
                survived[rep_id, source, cohort, extra] = mrr
    # Ratio rules need a zero rather than a missing series (a cohort that fully churned).
    for key3 in deals_won:
        retained_mrr.setdefault(key3, ZERO)
        deals_retained.setdefault(key3, 0)
        scheduled.setdefault(key3, ZERO)
    for key4 in base:
        survived.setdefault(key4, ZERO)

    window = (add_months(floor, n) for n in range(cohort_months))
    later = {cohort for cohort in (*cohorts, *(c for _, _, c in deals_won)) if cohort > current}
    ages = {cohort: month_index(current) - month_index(cohort) for cohort in (*window, *later)}
    quota_mrr = {
        (rep_id, month): amount for month, rep_id, amount, _ in total.quotas(floor) if month in ages
    }
    return Snapshot(
        as_of=as_of,
        new_mrr=new_mrr,
        deals_won=deals_won,
        retained_mrr=retained_mrr,
        deals_retained=deals_retained,
        scheduled_churn_mrr=scheduled,
        churned_mrr=churned_mrr,
        deals_churned=deals_churned,
        survival_base_mrr=base,
        survival_retained_mrr=survived,
        quota_mrr=quota_mrr,
        cohort_age_months=ages,
        rep_names=_most_common_names(rep_name_counts),
    )
