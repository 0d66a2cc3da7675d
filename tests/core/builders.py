"""Small constructors of facts with defaults, so tests state only what matters."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from stream.core.facts import CancellationFacts, DealFacts, QuotaFacts


def at(text: str) -> datetime:
    """`2026-01-10` or `2026-01-10T12:00` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def deal(
    subscription_id: str = "sub-1",
    *,
    event_id: str | None = None,
    rep_id: str = "juan",
    rep_name: str | None = "Juan",
    lead_source: str = "outbound",
    closed_at: str | datetime = "2026-01-10",
    mrr: str = "5000.00",
) -> DealFacts:
    return DealFacts(
        event_id=event_id or f"deal-{subscription_id}",
        subscription_id=subscription_id,
        deal_id=subscription_id,
        customer_id=f"cust-{subscription_id}",
        rep_id=rep_id,
        rep_name=rep_name,
        lead_source=lead_source,
        closed_at=at(closed_at) if isinstance(closed_at, str) else closed_at,
        mrr=Decimal(mrr),
    )


def cancellation(
    subscription_id: str = "sub-1",
    *,
    event_id: str | None = None,
    effective_at: str | datetime = "2026-02-20",
    cancelled_at: str | datetime | None = None,
    reason: str | None = None,
) -> CancellationFacts:
    effective = at(effective_at) if isinstance(effective_at, str) else effective_at
    cancelled = cancelled_at or effective
    return CancellationFacts(
        event_id=event_id or f"cancel-{subscription_id}",
        subscription_id=subscription_id,
        cancelled_at=at(cancelled) if isinstance(cancelled, str) else cancelled,
        effective_at=effective,
        reason=reason,
    )


def quota(
    rep_id: str = "juan", month: str = "2026-01", amount: str = "90000", event_id: str = "q-1"
) -> QuotaFacts:
    return QuotaFacts(event_id=event_id, rep_id=rep_id, month=month, amount=Decimal(amount))
