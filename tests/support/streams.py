"""Seeded event streams with the faults of real upstreams, for the worker tests.

Every record says where it goes (topic kind), its Kafka key (None for null-keyed)
and its bytes. `valid_history()` gives the events the worker must apply, in the
order a single partition sees them, for the reference model.

Null- and wrongly-keyed records are re-routed by the worker through a repartition
topic, which may reorder them against later events of the same subscription; so
only subscriptions with a single event on that topic get them, keeping the final
state independent of that reordering.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

REPS = ("juan", "miguel", "ana", "li", "sam")
LEAD_SOURCES = ("outbound", "referral", "paid-ads", "partner")
FX = {"USD": Decimal(1), "EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
FX_SETTING = "EUR=1.08,GBP=1.27"


@dataclass(frozen=True)
class Record:
    kind: str  # "deal_won" | "subscription_cancelled" | "quota_set"
    key: bytes | None
    value: bytes
    event: dict[str, Any] | None  # None for invalid records

    @property
    def valid(self) -> bool:
        return self.event is not None


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _record(kind: str, event: dict[str, Any], key: str | None) -> Record:
    body = json.dumps(event).encode()
    return Record(kind, key.encode() if key is not None else None, body, event)


class StreamBuilder:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        # Whole minutes plus 17 s: transitions then never coincide with a scrape boundary
        # by accident of rounding, and the test can tell when one falls in its window.
        self.now = now.replace(second=17, microsecond=0)
        self.records: list[Record] = []

    def deal(self, sub: str, n: int, *, rep: str, source: str, closed: datetime) -> dict[str, Any]:
        rng = self.rng
        event: dict[str, Any] = {
            "type": "deal_won",
            "event_id": f"{sub}-deal-{n}",
            "subscription_id": sub,
            "customer_id": f"cust-{sub}",
            "rep_id": rep,
            "rep_name": rep.title(),
            "lead_source": source,
            "closed_at": _ts(closed),
            "currency": rng.choice(list(FX)),
        }
        if rng.random() < 0.5:
            event["mrr"] = str(Decimal(rng.randint(1000, 900000)) / 100)
        else:
            event["amount"] = str(Decimal(rng.randint(1000, 9000000)) / 100)
            event["billing_period"] = rng.choice(["month", "quarter", "year"])
        return event

    def build(self, subscriptions: int) -> list[Record]:
        rng = self.rng
        later: list[Record] = []
        for i in range(subscriptions):
            sub = f"sub-{i:05d}"
            closed = self.now - timedelta(minutes=rng.randint(60, 60 * 24 * 420))
            deal = self.deal(
                sub, 0, rep=rng.choice(REPS), source=rng.choice(LEAD_SOURCES), closed=closed
            )
            deals = [deal]
            if rng.random() < 0.1:  # a correction moving rep, lead source, close or MRR
                deals.append(
                    self.deal(
                        sub,
                        1,
                        rep=rng.choice(REPS),
                        source=rng.choice(LEAD_SOURCES),
                        closed=closed + timedelta(minutes=rng.randint(-3000, 3000)),
                    )
                )
            cancel = self._maybe_cancellation(sub, closed) if rng.random() < 0.45 else None
            if cancel is not None and rng.random() < 0.2:  # cancellation before its deal
                self.records.append(_record("subscription_cancelled", cancel, sub))
                cancel = None
            single = len(deals) == 1
            for event in deals:
                self.records.append(_record("deal_won", event, self._key(sub, single)))
            if cancel is not None:
                self.records.append(_record("subscription_cancelled", cancel, self._key(sub, True)))
            if rng.random() < 0.08:  # re-delivery of the first (possibly superseded) deal
                later.append(_record("deal_won", deals[0], sub))
            if rng.random() < 0.03:
                later.append(self._invalid(sub))
        for month_back in range(14):
            month = _month(self.now, -month_back)
            for rep in REPS:
                for n in range(1 + (rng.random() < 0.3)):  # sometimes revised: latest wins
                    quota = {
                        "type": "quota_set",
                        "event_id": f"quota-{rep}-{month}-{n}",
                        "rep_id": rep,
                        "month": month,
                        "amount": str(rng.randint(10, 200) * 1000),
                        "currency": rng.choice(["USD", "EUR"]),
                    }
                    self.records.append(_record("quota_set", quota, rep))
        self.records.extend(later)
        return self.records

    def _key(self, sub: str, may_be_wrong: bool) -> str | None:
        roll = self.rng.random()
        if may_be_wrong and roll < 0.05:
            return None
        if may_be_wrong and roll < 0.08:
            return f"wrong-{sub}"
        return sub

    def _maybe_cancellation(self, sub: str, closed: datetime) -> dict[str, Any]:
        rng = self.rng
        cancelled = closed + timedelta(minutes=rng.randint(0, 60 * 24 * 300))
        cancelled = min(cancelled, self.now - timedelta(minutes=1))
        roll = rng.random()
        if roll < 0.1:  # effective before the close: clamped
            effective = closed - timedelta(days=rng.randint(1, 20))
        elif roll < 0.35:  # cancel at period end, still in the future
            effective = self.now + timedelta(minutes=rng.randint(60, 60 * 24 * 60))
        else:
            effective = cancelled + timedelta(minutes=rng.randint(0, 60 * 24 * 30))
            effective = min(effective, self.now - timedelta(minutes=2))
        return {
            "type": "subscription_cancelled",
            "event_id": f"{sub}-cancel",
            "subscription_id": sub,
            "cancelled_at": _ts(cancelled),
            "effective_at": _ts(effective),
            "reason": "too expensive",
        }

    def _invalid(self, sub: str) -> Record:
        body = self.rng.choice(
            [
                b"{not json",
                json.dumps(
                    {"type": "deal_won", "event_id": f"{sub}-bad", "subscription_id": sub}
                ).encode(),
                json.dumps(
                    {
                        "type": "subscription_cancelled",
                        "event_id": f"{sub}-bad-cur",
                        "subscription_id": sub,
                        "cancelled_at": "yesterday",
                    }
                ).encode(),
            ]
        )
        return Record("deal_won", sub.encode(), body, None)


def _month(now: datetime, offset: int) -> str:
    index = now.year * 12 + now.month - 1 + offset
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
