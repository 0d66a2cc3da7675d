"""Normalised inputs of the core.

The shell builds these from validated events: money already converted to the base
currency and rounded to cents, datetimes aware (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from stream.core.codec import decode_datetime, decode_decimal, encode_datetime, encode_decimal

__all__ = ["CancellationFacts", "DealFacts", "QuotaFacts"]


@dataclass(frozen=True, slots=True)
class DealFacts:
    event_id: str
    subscription_id: str
    deal_id: str
    customer_id: str
    rep_id: str
    rep_name: str | None
    lead_source: str
    closed_at: datetime
    mrr: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "subscription_id": self.subscription_id,
            "deal_id": self.deal_id,
            "customer_id": self.customer_id,
            "rep_id": self.rep_id,
            "rep_name": self.rep_name,
            "lead_source": self.lead_source,
            "closed_at": encode_datetime(self.closed_at),
            "mrr": encode_decimal(self.mrr),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DealFacts:
        return cls(
            event_id=data["event_id"],
            subscription_id=data["subscription_id"],
            deal_id=data["deal_id"],
            customer_id=data["customer_id"],
            rep_id=data["rep_id"],
            rep_name=data["rep_name"],
            lead_source=data["lead_source"],
            closed_at=decode_datetime(data["closed_at"]),
            mrr=decode_decimal(data["mrr"]),
        )


@dataclass(frozen=True, slots=True)
class CancellationFacts:
    event_id: str
    subscription_id: str
    cancelled_at: datetime
    effective_at: datetime
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "subscription_id": self.subscription_id,
            "cancelled_at": encode_datetime(self.cancelled_at),
            "effective_at": encode_datetime(self.effective_at),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CancellationFacts:
        return cls(
            event_id=data["event_id"],
            subscription_id=data["subscription_id"],
            cancelled_at=decode_datetime(data["cancelled_at"]),
            effective_at=decode_datetime(data["effective_at"]),
            reason=data["reason"],
        )


@dataclass(frozen=True, slots=True)
class QuotaFacts:
    event_id: str
    rep_id: str
    month: str  # "YYYY-MM"
    amount: Decimal
