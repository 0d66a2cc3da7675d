"""Decoding one Kafka message value into an event, or a `Rejection` with its SPEC reason.

Shared by the worker and `retained-mrr publish`, so both accept exactly the same input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from schemas.encoding import loads
from schemas.events import DealWon, QuotaSet, SubscriptionCancelled
from stream.config import Settings
from stream.core.facts import CancellationFacts, DealFacts, QuotaFacts
from stream.core.money import FxTable, months_of

__all__ = [
    "FUTURE_TOLERANCE",
    "AnyEvent",
    "Reason",
    "Rejection",
    "TopicKind",
    "Validator",
    "to_facts",
    "utc_now",
]

AnyEvent = DealWon | SubscriptionCancelled | QuotaSet

# Clocks drift and upstream batches lag; a day ahead is the most a real event can be.
FUTURE_TOLERANCE = timedelta(hours=24)
_MAX_DETAILS = 3


class TopicKind(StrEnum):
    DEALS = "deal_won"
    CANCELLATIONS = "subscription_cancelled"
    QUOTAS = "quota_set"


class Reason(StrEnum):
    INVALID_JSON = "invalid_json"
    SCHEMA = "schema"
    WRONG_TOPIC = "wrong_topic"
    UNSUPPORTED_CURRENCY = "unsupported_currency"
    FUTURE_TIMESTAMP = "future_timestamp"
    TOO_LARGE = "too_large"
    CARDINALITY_LIMIT = "cardinality_limit"


@dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str  # names the field; human readable


_MODELS: dict[TopicKind, type[AnyEvent]] = {
    TopicKind.DEALS: DealWon,
    TopicKind.CANCELLATIONS: SubscriptionCancelled,
    TopicKind.QUOTAS: QuotaSet,
}
_KINDS = {kind.value: kind for kind in TopicKind}
# effective_at is not here: "cancel at period end" is legitimately in the future.
_NOT_IN_FUTURE: dict[TopicKind, tuple[str, ...]] = {
    TopicKind.DEALS: ("closed_at",),
    TopicKind.CANCELLATIONS: ("cancelled_at",),
    TopicKind.QUOTAS: (),
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _short(value: Any) -> str:
    # Details land in logs and dead letters; the original bytes are kept there anyway.
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: ValidationError) -> str:
    parts: list[str] = []
    for item in error.errors(include_url=False, include_input=False):
        # Follows from another field's error; naming it too would only add noise.
        if item["type"] == "default_factory_not_called":
            continue
        message = item["msg"].removeprefix("Value error, ")
        location = ".".join(str(part) for part in item["loc"])
        parts.append(f"{location}: {message}" if location else message)
    extra = len(parts) - _MAX_DETAILS
    return "; ".join(parts[:_MAX_DETAILS]) + (f" (and {extra} more)" if extra > 0 else "")


@dataclass(frozen=True)
class Validator:
    fx: FxTable
    max_message_bytes: int
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], datetime] = utc_now
    ) -> Validator:
        return cls(
            fx=FxTable(settings.base_currency, settings.fx_rates),
            max_message_bytes=settings.max_message_bytes,
            clock=clock,
        )

    def decode(self, raw: bytes | None, kind: TopicKind) -> AnyEvent | Rejection:
        """The event in a message value read from `kind`'s topic; never raises."""
        parsed = self._parse(raw)
        return parsed if isinstance(parsed, Rejection) else self._event(parsed, kind)

    def decode_any(self, raw: bytes | None) -> AnyEvent | Rejection:
        """The event in a value from a mixed stream (JSON Lines), where `type` is required."""
        parsed = self._parse(raw)
        if isinstance(parsed, Rejection):
            return parsed
        given = parsed.get("type")
        kind = _KINDS.get(given) if isinstance(given, str) else None
        if kind is None:
            kinds = ", ".join(TopicKind)
            got = "it is missing" if given is None else f"got {_short(given)}"
            return Rejection(Reason.SCHEMA, f"type: must be one of {kinds}; {got}")
        return self._event(parsed, kind)

    def _parse(self, raw: bytes | None) -> dict[str, Any] | Rejection:
        if raw is None:
            return Rejection(Reason.INVALID_JSON, "value: the message has no value (null)")
        if len(raw) > self.max_message_bytes:
            return Rejection(
                Reason.TOO_LARGE,
                f"value: {len(raw)} bytes, more than the limit of {self.max_message_bytes}",
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            return Rejection(
                Reason.INVALID_JSON, f"value: not UTF-8 ({error.reason} at byte {error.start})"
            )
        try:
            value = loads(text)
        except (ValueError, RecursionError) as error:
            return Rejection(Reason.INVALID_JSON, f"value: not JSON ({error})")
        if not isinstance(value, dict):
            return Rejection(
                Reason.SCHEMA, f"value: must be a JSON object, got {_json_type(value)}"
            )
        return value

    def _event(self, data: dict[str, Any], kind: TopicKind) -> AnyEvent | Rejection:
        given = data.get("type")
        if isinstance(given, str) and given != kind:
            return Rejection(Reason.WRONG_TOPIC, f"type: {_short(given)} on the {kind} topic")
        try:
            event = _MODELS[kind].model_validate(data)
        except ValidationError as error:
            return Rejection(Reason.SCHEMA, _describe(error))
        if isinstance(event, DealWon | QuotaSet) and not self.fx.supports(event.currency):
            return Rejection(
                Reason.UNSUPPORTED_CURRENCY,
                f"currency: {event.currency} is not the base currency {self.fx.base}"
                " and has no rate in RETAINED_MRR_FX_RATES",
            )
        latest = self.clock() + FUTURE_TOLERANCE
        for name in _NOT_IN_FUTURE[kind]:
            stamp: datetime = getattr(event, name)
            if stamp > latest:
                return Rejection(
                    Reason.FUTURE_TIMESTAMP,
                    f"{name}: {stamp.isoformat()} is more than 24 h after processing time",
                )
        return event


def to_facts(event: AnyEvent, fx: FxTable) -> DealFacts | CancellationFacts | QuotaFacts:
    """The core's normalised facts: money in the base currency (cents), datetimes in UTC."""
    if isinstance(event, DealWon):
        amount, period = event.billed
        return DealFacts(
            event_id=event.event_id,
            subscription_id=event.subscription_id,
            deal_id=event.deal_id,
            customer_id=event.customer_id,
            rep_id=event.rep_id,
            rep_name=event.rep_name,
            lead_source=event.lead_source,
            closed_at=event.closed_at.astimezone(UTC),
            mrr=fx.to_base(amount, event.currency, months_of(period)),
        )
    if isinstance(event, SubscriptionCancelled):
        return CancellationFacts(
            event_id=event.event_id,
            subscription_id=event.subscription_id,
            cancelled_at=event.cancelled_at.astimezone(UTC),
            effective_at=event.effective_at.astimezone(UTC),
            reason=event.reason,
        )
    return QuotaFacts(
        event_id=event.event_id,
        rep_id=event.rep_id,
        month=event.month,
        amount=fx.to_base(event.amount, event.currency),
    )
