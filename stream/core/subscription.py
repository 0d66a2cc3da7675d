"""Per-subscription state machine (SPEC 3.1-3.3): the join of a deal and its cancellation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from stream.core.codec import VERSION, check_version
from stream.core.facts import CancellationFacts, DealFacts
from stream.core.outcome import Outcome

__all__ = ["Outcome", "Subscription", "apply_cancellation", "apply_deal"]


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    partition: int
    deal: DealFacts | None
    cancellation: CancellationFacts | None
    event_ids: frozenset[str]

    @property
    def pending(self) -> bool:
        """A cancellation waits for its deal (it arrived first)."""
        return self.cancellation is not None and self.deal is None

    @property
    def churn_at(self) -> datetime | None:
        if self.deal is None or self.cancellation is None:
            return None
        return max(self.cancellation.effective_at, self.deal.closed_at)

    @property
    def clamped(self) -> bool:
        """The cancellation took effect before the close, so churn is moved to the close."""
        if self.deal is None or self.cancellation is None:
            return False
        return self.cancellation.effective_at < self.deal.closed_at

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "subscription_id": self.subscription_id,
            "partition": self.partition,
            "deal": None if self.deal is None else self.deal.to_json(),
            "cancellation": None if self.cancellation is None else self.cancellation.to_json(),
            "event_ids": sorted(self.event_ids),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Subscription:
        check_version("subscription", data)
        deal, cancellation = data["deal"], data["cancellation"]
        return cls(
            subscription_id=data["subscription_id"],
            partition=data["partition"],
            deal=None if deal is None else DealFacts.from_json(deal),
            cancellation=None
            if cancellation is None
            else CancellationFacts.from_json(cancellation),
            event_ids=frozenset(data["event_ids"]),
        )


def _start(current: Subscription | None, subscription_id: str, partition: int) -> Subscription:
    if current is None:
        return Subscription(subscription_id, partition, None, None, frozenset())
    if current.subscription_id != subscription_id:
        raise ValueError(
            f"event for subscription {subscription_id!r} applied to {current.subscription_id!r}"
        )
    return current


def apply_deal(
    current: Subscription | None, deal: DealFacts, partition: int
) -> tuple[Subscription, Outcome]:
    """The latest accepted deal_won wins; a new event_id for a known deal is a correction."""
    state = _start(current, deal.subscription_id, partition)
    if deal.event_id in state.event_ids:
        return state, Outcome.DUPLICATE
    event_ids = state.event_ids | {deal.event_id}
    return replace(state, partition=partition, deal=deal, event_ids=event_ids), Outcome.APPLIED


def apply_cancellation(
    current: Subscription | None, cancel: CancellationFacts, partition: int
) -> tuple[Subscription, Outcome]:
    """The latest accepted cancellation wins; before its deal it is kept pending."""
    state = _start(current, cancel.subscription_id, partition)
    if cancel.event_id in state.event_ids:
        return state, Outcome.DUPLICATE
    event_ids = state.event_ids | {cancel.event_id}
    updated = replace(state, partition=partition, cancellation=cancel, event_ids=event_ids)
    return updated, Outcome.APPLIED
