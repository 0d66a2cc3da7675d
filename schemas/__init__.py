"""The retained-mrr event contract: pydantic models, JSON text helpers, JSON Schema files.

Depends on pydantic only (never on `stream` or Faust), so upstream producers can
validate and serialise events with exactly the rules the worker applies.
"""

from schemas.encoding import dumps, loads
from schemas.events import (
    EARLIEST,
    MAX_MONEY,
    DealWon,
    Event,
    EventAdapter,
    QuotaSet,
    SubscriptionCancelled,
)

__all__ = [
    "EARLIEST",
    "MAX_MONEY",
    "DealWon",
    "Event",
    "EventAdapter",
    "QuotaSet",
    "SubscriptionCancelled",
    "dumps",
    "loads",
]
