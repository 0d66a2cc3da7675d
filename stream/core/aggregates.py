"""Aggregates of every partition a worker currently owns, and the scrape-time snapshot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from stream.core.errors import PartitionNotAssignedError
from stream.core.partition import PartitionAggregates
from stream.core.quotas import Quota
from stream.core.snapshot import Snapshot, build_snapshot
from stream.core.store import SeriesStore
from stream.core.subscription import Subscription

__all__ = ["Aggregates", "PartitionAggregates", "Snapshot"]


class Aggregates:
    """Per-partition aggregates kept beside the worker's tables.

    As-of never moves backwards: a snapshot or assignment at a time earlier than
    one already used is taken at that later time (the watermark) instead, because
    deltas already applied are not un-applied when the clock steps back.
    """

    def __init__(self, clock: Callable[[], datetime], cohort_months: int) -> None:
        if cohort_months < 1:
            raise ValueError(f"cohort_months must be >= 1, got {cohort_months}")
        self._clock = clock
        self._cohort_months = cohort_months
        self._parts: dict[int, PartitionAggregates] = {}
        # The sum over self._parts, kept as they change, so a scrape reads it once.
        self._total = SeriesStore()
        self._watermark: datetime | None = None

    def assign(
        self, partition: int, subscriptions: Iterable[Subscription], quotas: Iterable[Quota] = ()
    ) -> None:
        """(Re)build one partition from its table contents."""
        self.revoke(partition)
        part = PartitionAggregates(self._forward(self._clock()), self._total)
        try:
            for subscription in subscriptions:
                part.replace(None, subscription)
            for quota in quotas:
                part.replace_quota(None, quota)
        except BaseException:
            # E.g. a stored state that does not decode: leave the total as it was.
            part.detach()
            raise
        self._parts[partition] = part

    def revoke(self, partition: int) -> None:
        part = self._parts.pop(partition, None)
        if part is not None:
            part.detach()

    def partitions(self) -> frozenset[int]:
        return frozenset(self._parts)

    def replace(self, partition: int, old: Subscription | None, new: Subscription | None) -> None:
        """Move a subscription from `old` to `new`, which `partition` now owns.

        `old` is subtracted where it was added (`old.partition`); when that is
        another worker's partition, that worker still counts it until it rebuilds.
        """
        target = self._part(partition)
        if old is not None and old.partition != partition:
            source = self._parts.get(old.partition)
            if source is not None:
                source.replace(old, None)
            old = None
        target.replace(old, new)

    def replace_quota(self, partition: int, old: Quota | None, new: Quota | None) -> None:
        target = self._part(partition)
        if old is not None and old.partition != partition:
            source = self._parts.get(old.partition)
            if source is not None:
                source.replace_quota(old, None)
            old = None
        target.replace_quota(old, new)

    def rep_ids(self) -> set[str]:
        return set().union(*(part.rep_ids() for part in self._parts.values()))

    def lead_sources(self) -> set[str]:
        return set().union(*(part.lead_sources() for part in self._parts.values()))

    def has_rep(self, rep_id: str) -> bool:
        """O(partitions), unlike `rep_ids()`: cheap enough to ask on every event."""
        return any(rep_id in part.rep_ids() for part in self._parts.values())

    def has_lead_source(self, lead_source: str) -> bool:
        return any(lead_source in part.lead_sources() for part in self._parts.values())

    def pending(self) -> int:
        return sum(part.pending for part in self._parts.values())

    def snapshot(self, as_of: datetime | None = None, cohorts: Iterable[str] = ()) -> Snapshot:
        """Series as of `as_of` (default: the clock), or as of the watermark if that is later.
        `cohorts`: months exported for another reason, such as the later months that hold
        deals when these aggregates hold only quotas."""
        effective = self._forward(self._clock() if as_of is None else as_of)
        for part in self._parts.values():
            part.advance(effective)
        names: Counter[tuple[str, str]] = Counter()
        for part in self._parts.values():
            names.update(part.rep_name_counts())
        return build_snapshot(effective, self._cohort_months, self._total, names, cohorts)

    def _forward(self, as_of: datetime) -> datetime:
        if as_of.tzinfo is None:
            raise ValueError(f"as-of {as_of.isoformat()} has no UTC offset")
        if self._watermark is None or as_of > self._watermark:
            self._watermark = as_of
        return self._watermark

    def _part(self, partition: int) -> PartitionAggregates:
        try:
            return self._parts[partition]
        except KeyError:
            raise PartitionNotAssignedError(
                f"partition {partition} is not assigned to these aggregates"
            ) from None
