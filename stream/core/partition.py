"""One partition's aggregates, maintained incrementally as subscriptions change and time passes.

Values are kept as of a watermark; the deltas that fall due later wait in a list
ordered by time. Advancing the watermark applies the deltas it crosses, so a
scrape costs O(deltas crossed + series exported), never O(subscriptions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator, Set
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from sortedcontainers import SortedList

from stream.core.contribution import Contribution, Step, contribution_of
from stream.core.quotas import Quota
from stream.core.store import SeriesStore, SeriesValue
from stream.core.subscription import Subscription

__all__ = ["PartitionAggregates"]

K = TypeVar("K", bound=Hashable)


def _refcount(counter: Counter[K], key: K, sign: int) -> None:
    counter[key] += sign
    if counter[key] == 0:
        del counter[key]


class PartitionAggregates:
    """Business series of the subscriptions and quotas one partition owns.

    The watermark only moves forward: `advance` to an earlier time does nothing.
    Every change is also made to `total` when given (the sum over a worker's
    partitions); `detach` takes this partition's values out of it again.
    """

    def __init__(self, as_of: datetime, total: SeriesStore | None = None) -> None:
        self._watermark = as_of
        self._own = SeriesStore()
        self._total = total
        self._stores = (self._own,) if total is None else (self._own, total)
        # (due, subscription_id, step, contribution) of deltas not yet due.
        self._future: SortedList = SortedList()
        self._reps: Counter[str] = Counter()
        self._lead_sources: Counter[str] = Counter()
        self._rep_names: Counter[tuple[str, str]] = Counter()
        self.pending = 0

    @property
    def watermark(self) -> datetime:
        return self._watermark

    def future_deltas(self) -> int:
        return len(self._future)

    def replace(self, old: Subscription | None, new: Subscription | None) -> None:
        """Subtract `old`'s contribution (exactly as it was added), then add `new`'s."""
        if old is not None:
            self._account(old, -1)
        if new is not None:
            self._account(new, 1)

    def replace_quota(self, old: Quota | None, new: Quota | None) -> None:
        if old is not None:
            self._account_quota(old, -1)
        if new is not None:
            self._account_quota(new, 1)

    def advance(self, as_of: datetime) -> None:
        """Apply every delta due at or before `as_of`."""
        future = self._future
        while future and future[0][0] <= as_of:
            _, _, step, contribution = future.pop(0)
            self._apply(contribution, step, 1)
        self._watermark = max(self._watermark, as_of)

    def rep_ids(self) -> Set[str]:
        return self._reps.keys()

    def lead_sources(self) -> Set[str]:
        return self._lead_sources.keys()

    def rep_name_counts(self) -> Counter[tuple[str, str]]:
        """How many deals name each (rep_id, rep_name)."""
        return self._rep_names

    def series(self, floor: str) -> Iterator[SeriesValue]:
        """This partition's series of cohort `floor` or later."""
        return self._own.series(floor)

    def quotas(self, floor: str) -> Iterator[tuple[str, str, Decimal, int]]:
        return self._own.quotas(floor)

    def detach(self) -> None:
        """Take this partition's values out of the total it was built into."""
        if self._total is not None:
            self._own.subtract_from(self._total)
            self._total = None
            self._stores = (self._own,)

    def _account(self, subscription: Subscription, sign: int) -> None:
        self.pending += sign * subscription.pending
        contribution = contribution_of(subscription)
        if contribution is None:
            return
        _refcount(self._reps, contribution.rep_id, sign)
        _refcount(self._lead_sources, contribution.lead_source, sign)
        deal = subscription.deal
        if deal is not None and deal.rep_name is not None:
            _refcount(self._rep_names, (deal.rep_id, deal.rep_name), sign)
        for step, due in contribution.steps():
            if due is None or due <= self._watermark:
                self._apply(contribution, step, sign)
                continue
            entry = (due, subscription.subscription_id, step, contribution)
            if sign > 0:
                self._future.add(entry)
            else:
                self._future.remove(entry)

    def _apply(self, contribution: Contribution, step: Step, sign: int) -> None:
        for key, direction in contribution.effects(step):
            count = sign * direction
            for store in self._stores:
                store.bump(contribution.cohort, key, count * contribution.mrr, count)

    def _account_quota(self, quota: Quota, sign: int) -> None:
        _refcount(self._reps, quota.rep_id, sign)
        for store in self._stores:
            store.bump_quota(quota.month, quota.rep_id, sign * quota.amount, sign)
