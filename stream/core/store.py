"""Tallies of business series by cohort and of quotas by month.

Each partition keeps one store, and the worker keeps one more holding their sum,
so a scrape reads each exported series once however many partitions it owns.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from sortedcontainers import SortedDict

from stream.core.contribution import SeriesKey

__all__ = ["SeriesStore", "SeriesValue"]

K = TypeVar("K", bound=Hashable)

# (cohort, series key, MRR, deal count) of one stored series.
SeriesValue = tuple[str, SeriesKey, Decimal, int]


@dataclass(slots=True)
class _Tally:
    mrr: Decimal
    count: int


def _bump(values: dict[K, _Tally], key: K, mrr: Decimal, count: int) -> None:
    """Add to a tally; a tally back at zero is dropped, so no stale series remain.

    Both parts must be zero: while a contribution is being swapped the count can
    pass through zero with MRR of other deals still in the tally.
    """
    tally = values.get(key)
    if tally is None:
        values[key] = _Tally(mrr, count)
        return
    tally.mrr += mrr
    tally.count += count
    if tally.count == 0 and tally.mrr == 0:
        del values[key]


class SeriesStore:
    def __init__(self) -> None:
        # Ordered by cohort (month) so a snapshot skips those out of the window.
        self._series: SortedDict = SortedDict()
        self._quotas: SortedDict = SortedDict()

    def bump(self, cohort: str, key: SeriesKey, mrr: Decimal, count: int) -> None:
        values: dict[SeriesKey, _Tally] = self._series.setdefault(cohort, {})
        _bump(values, key, mrr, count)
        if not values:
            del self._series[cohort]

    def bump_quota(self, month: str, rep_id: str, amount: Decimal, count: int) -> None:
        values: dict[str, _Tally] = self._quotas.setdefault(month, {})
        _bump(values, rep_id, amount, count)
        if not values:
            del self._quotas[month]

    def series(self, floor: str) -> Iterator[SeriesValue]:
        """Every series of cohort `floor` or later."""
        for cohort in self._series.irange(minimum=floor):
            values: dict[SeriesKey, _Tally] = self._series[cohort]
            for key, tally in values.items():
                yield cohort, key, tally.mrr, tally.count

    def quotas(self, floor: str) -> Iterator[tuple[str, str, Decimal, int]]:
        """(month, rep_id, amount, quota count) of every quota of month `floor` or later."""
        for month in self._quotas.irange(minimum=floor):
            values: dict[str, _Tally] = self._quotas[month]
            for rep_id, tally in values.items():
                yield month, rep_id, tally.mrr, tally.count

    def subtract_from(self, total: SeriesStore) -> None:
        """Take every value of this store out of `total`."""
        for cohort, key, mrr, count in self.series(""):
            total.bump(cohort, key, -mrr, -count)
        for month, rep_id, amount, count in self.quotas(""):
            total.bump_quota(month, rep_id, -amount, -count)
