"""Calendar rules: cohorts (SPEC 3.5), tenure (3.7), horizons (3.8), exported window (3.10)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from stream.core.calendar import (
    HORIZONS,
    add_months,
    cohort_of,
    exported_cohorts_floor,
    month_index,
    tenure_bucket,
)
from tests.core.builders import at


def test_cohort_is_the_utc_month_of_an_offset_timestamp() -> None:
    late_evening_in_brazil = datetime(2026, 1, 31, 22, 30, tzinfo=timezone(timedelta(hours=-3)))
    assert cohort_of(late_evening_in_brazil) == "2026-02"
    assert cohort_of(at("2026-01-31T23:59:59")) == "2026-01"


def test_cohort_of_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        cohort_of(datetime(2026, 1, 1))


def test_month_arithmetic_crosses_years() -> None:
    assert add_months("2026-01", -1) == "2025-12"
    assert add_months("2025-12", 1) == "2026-01"
    assert add_months("2026-07", -18) == "2025-01"
    assert month_index("2026-07") - month_index("2026-01") == 6


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "26-01", "2026-1", "2026-01x"])
def test_malformed_months_are_refused(month: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_index(month)


def test_exported_window_ends_with_the_current_month() -> None:
    assert exported_cohorts_floor(at("2026-07-01"), 12) == "2025-08"
    assert exported_cohorts_floor(at("2026-07-31T23:00"), 1) == "2026-07"
    with pytest.raises(ValueError, match="cohort_months"):
        exported_cohorts_floor(at("2026-07-01"), 0)


@pytest.mark.parametrize(
    ("delay", "bucket"),
    [
        (timedelta(0), "0-30d"),
        (timedelta(days=30), "0-30d"),
        (timedelta(days=31) - timedelta(seconds=1), "0-30d"),
        (timedelta(days=31), "31-90d"),
        (timedelta(days=90), "31-90d"),
        (timedelta(days=91), "91-180d"),
        (timedelta(days=180, hours=23), "91-180d"),
        (timedelta(days=181), "181d+"),
        (timedelta(days=3000), "181d+"),
    ],
)
def test_tenure_buckets_use_whole_days_floored(delay: timedelta, bucket: str) -> None:
    closed = at("2026-01-10T15:00")
    assert tenure_bucket(closed, closed + delay) == bucket


def test_tenure_before_the_close_is_an_error() -> None:
    with pytest.raises(ValueError, match="precedes"):
        tenure_bucket(at("2026-01-10"), at("2026-01-09"))


def test_horizons_are_the_four_of_the_spec() -> None:
    assert {name: h.days for name, h in HORIZONS.items()} == {
        "30d": 30,
        "90d": 90,
        "180d": 180,
        "365d": 365,
    }
