"""Calendar rules: cohorts (UTC months), the exported window, tenure and survival horizons."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = [
    "HORIZONS",
    "TENURE_BUCKETS",
    "add_months",
    "cohort_of",
    "exported_cohorts_floor",
    "month_index",
    "tenure_bucket",
]

HORIZONS: dict[str, timedelta] = {
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "180d": timedelta(days=180),
    "365d": timedelta(days=365),
}

# (label, last whole day in it); a longer tenure falls in _LONG_TENURE.
_BOUNDED_TENURES: tuple[tuple[str, int], ...] = (("0-30d", 30), ("31-90d", 90), ("91-180d", 180))
_LONG_TENURE = "181d+"
TENURE_BUCKETS: tuple[str, ...] = (*(label for label, _ in _BOUNDED_TENURES), _LONG_TENURE)

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def _utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no UTC offset")
    return ts.astimezone(UTC)


def cohort_of(ts: datetime) -> str:
    """The UTC calendar month of `ts` as `YYYY-MM`."""
    utc = _utc(ts)
    return f"{utc.year:04d}-{utc.month:02d}"


def month_index(month: str) -> int:
    """Months since year 0, so that differences are ages in months."""
    match = _MONTH.fullmatch(month)
    if match is None:
        raise ValueError(f"month {month!r} is not YYYY-MM")
    return int(match[1]) * 12 + int(match[2]) - 1


def add_months(month: str, n: int) -> str:
    year, zero_based = divmod(month_index(month) + n, 12)
    return f"{year:04d}-{zero_based + 1:02d}"


def exported_cohorts_floor(as_of: datetime, cohort_months: int) -> str:
    """Oldest exported cohort: the `cohort_months` most recent months end with as-of's month."""
    if cohort_months < 1:
        raise ValueError(f"cohort_months must be >= 1, got {cohort_months}")
    return add_months(cohort_of(as_of), 1 - cohort_months)


def tenure_bucket(closed_at: datetime, churn_at: datetime) -> str:
    """Bucket of the whole days (floored) a churned deal lived."""
    days = (_utc(churn_at) - _utc(closed_at)).days
    if days < 0:
        raise ValueError(f"churn {churn_at.isoformat()} precedes close {closed_at.isoformat()}")
    for label, last_day in _BOUNDED_TENURES:
        if days <= last_day:
            return label
    return _LONG_TENURE
