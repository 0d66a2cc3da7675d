"""Per-(rep, month) quota state (SPEC 3.9): the latest quota_set wins."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from stream.core.calendar import month_index
from stream.core.codec import VERSION, check_version, decode_decimal, encode_decimal
from stream.core.facts import QuotaFacts
from stream.core.outcome import Outcome

__all__ = ["Quota", "apply_quota", "quota_key"]


@dataclass(frozen=True, slots=True)
class Quota:
    rep_id: str
    month: str
    amount: Decimal
    event_ids: frozenset[str]
    partition: int

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "rep_id": self.rep_id,
            "month": self.month,
            "amount": encode_decimal(self.amount),
            "event_ids": sorted(self.event_ids),
            "partition": self.partition,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Quota:
        check_version("quota", data)
        return cls(
            rep_id=data["rep_id"],
            month=data["month"],
            amount=decode_decimal(data["amount"]),
            event_ids=frozenset(data["event_ids"]),
            partition=data["partition"],
        )


def quota_key(rep_id: str, month: str) -> str:
    """Table key of a quota; `/` never occurs in a rep_id, so keys cannot collide."""
    month_index(month)  # rejects a malformed month before it becomes a key
    return f"{rep_id}/{month}"


def apply_quota(current: Quota | None, facts: QuotaFacts, partition: int) -> tuple[Quota, Outcome]:
    if current is not None:
        if (current.rep_id, current.month) != (facts.rep_id, facts.month):
            raise ValueError(
                f"quota for {quota_key(facts.rep_id, facts.month)!r} applied to "
                f"{quota_key(current.rep_id, current.month)!r}"
            )
        if facts.event_id in current.event_ids:
            return current, Outcome.DUPLICATE
    seen = frozenset() if current is None else current.event_ids
    quota = Quota(facts.rep_id, facts.month, facts.amount, seen | {facts.event_id}, partition)
    return quota, Outcome.APPLIED
