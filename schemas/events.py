"""The event contract (SPEC section 2) as pydantic v2 models: the single source of truth.

Imports only pydantic and the standard library, so an upstream service can depend on
this package alone. Money is `Decimal` end to end: parse JSON with
`json.loads(text, parse_float=Decimal)` (see `schemas.encoding.loads`) before
`model_validate`, because pydantic's own JSON parser reads numbers as floats.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

__all__ = [
    "EARLIEST",
    "MAX_MONEY",
    "DealWon",
    "Event",
    "EventAdapter",
    "QuotaSet",
    "SubscriptionCancelled",
]

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_MONEY = Decimal(10**9)
_DECIMAL_STRING = re.compile(r"[0-9]+(\.[0-9]+)?")
_DECIMAL_STRING_SCHEMA = {"type": "string", "pattern": f"^{_DECIMAL_STRING.pattern}$"}

_FORWARD_COMPATIBLE = (
    " Unknown fields are ignored (forward compatibility): producers may add fields"
    " before consumers know them."
)


def _utf8_encodable(value: str) -> str:
    # JSON escapes can produce lone surrogates, which no Kafka key or label can carry.
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_utf8_encodable)]
EventId = Annotated[Text, StringConstraints(min_length=1, max_length=128)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 code; the base currency or one with a configured FX rate."),
]
Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


def _no_float(value: Any) -> Any:
    # A binary float has already lost digits; only JSON numbers parsed as Decimal,
    # ints and plain decimal strings carry the exact amount.
    if isinstance(value, float):
        raise ValueError("money must be a Decimal, an int or a decimal string, not a float")
    if isinstance(value, str) and not _DECIMAL_STRING.fullmatch(value):
        raise ValueError(
            "a money string must be a plain decimal such as 1250.00 (no sign, no exponent)"
        )
    return value


def _money_schema(minimum: Literal["exclusiveMinimum", "minimum"]) -> WithJsonSchema:
    number = {"type": "number", minimum: 0, "maximum": int(MAX_MONEY)}
    return WithJsonSchema({"anyOf": [number, _DECIMAL_STRING_SCHEMA]})


_BoundedDecimal = Annotated[
    Decimal, BeforeValidator(_no_float), Field(le=MAX_MONEY, allow_inf_nan=False)
]
PositiveMoney = Annotated[_BoundedDecimal, Field(gt=0), _money_schema("exclusiveMinimum")]
NonNegativeMoney = Annotated[_BoundedDecimal, Field(ge=0), _money_schema("minimum")]


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339_text(value: Any) -> Any:
    # pydantic alone would also take Unix numbers, dates and times without seconds.
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-03-14T10:00:00Z")


def _not_before_2000(value: datetime) -> datetime:
    if value < EARLIEST:
        raise ValueError("must not be before 2000-01-01T00:00:00Z")
    return value


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
    AfterValidator(_not_before_2000),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": f"^{_RFC3339.pattern}$"}),
    Field(description="RFC 3339 with an offset, not before 2000-01-01T00:00:00Z."),
]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: EventId = Field(
        description="Identifies the event; a re-delivered event changes nothing."
    )


class DealWon(_Event):
    model_config = ConfigDict(
        title="deal_won",
        json_schema_extra={
            "description": (
                "A won deal that starts a subscription; key: subscription_id."
                " Exactly one of mrr or amount with billing_period."
                " closed_at must not be more than 24 h after processing time." + _FORWARD_COMPATIBLE
            ),
            # null counts as absent, as it does for the model.
            "oneOf": [
                {
                    "required": ["mrr"],
                    "properties": {
                        "mrr": {"not": {"type": "null"}},
                        "amount": {"type": "null"},
                        "billing_period": {"type": "null"},
                    },
                },
                {
                    "required": ["amount", "billing_period"],
                    "properties": {
                        "mrr": {"type": "null"},
                        "amount": {"not": {"type": "null"}},
                        "billing_period": {"not": {"type": "null"}},
                    },
                },
            ],
        },
    )

    type: Literal["deal_won"] = Field(
        "deal_won", description="When present it must match the topic."
    )
    subscription_id: EventId = Field(description="The join key.")
    deal_id: EventId = Field(
        default_factory=lambda data: data.get("subscription_id"),
        description="Defaults to subscription_id.",
    )
    customer_id: EventId
    rep_id: Label = Field(description="Becomes a Prometheus label.")
    rep_name: Annotated[Text, StringConstraints(max_length=128)] | None = None
    lead_source: Annotated[Label, AfterValidator(str.lower)] = Field(
        "unknown", description="Lower-cased on input; defaults to unknown."
    )
    closed_at: Timestamp
    mrr: PositiveMoney | None = Field(None, description="Monthly recurring revenue, > 0.")
    amount: PositiveMoney | None = Field(None, description="Billed per billing_period, > 0.")
    billing_period: Literal["month", "quarter", "year"] | None = Field(
        None, description="MRR = amount / 1, 3 or 12."
    )
    currency: Currency

    @property
    def billed(self) -> tuple[Decimal, str]:
        """(amount, billing period) of the price; an `mrr` is an amount billed monthly."""
        if self.mrr is not None:
            return self.mrr, "month"
        assert self.amount is not None and self.billing_period is not None  # by the validator
        return self.amount, self.billing_period

    @model_validator(mode="after")
    def _one_way_to_give_mrr(self) -> DealWon:
        if self.mrr is not None and (self.amount is not None or self.billing_period is not None):
            raise ValueError("mrr: give either mrr or amount with billing_period, not both")
        if self.mrr is None and (self.amount is None or self.billing_period is None):
            raise ValueError("mrr: give mrr, or amount together with billing_period")
        return self


class SubscriptionCancelled(_Event):
    model_config = ConfigDict(
        title="subscription_cancelled",
        json_schema_extra={
            "description": (
                "A subscription's cancellation; key: subscription_id. cancelled_at must not be"
                " more than 24 h after processing time; effective_at may be in the future."
                + _FORWARD_COMPATIBLE
            )
        },
    )

    type: Literal["subscription_cancelled"] = Field(
        "subscription_cancelled", description="When present it must match the topic."
    )
    subscription_id: EventId = Field(description="The join key.")
    cancelled_at: Timestamp
    effective_at: Timestamp = Field(
        default_factory=lambda data: data.get("cancelled_at"),
        description="When the revenue stops; defaults to cancelled_at; may be in the future.",
    )
    reason: Annotated[Text, StringConstraints(max_length=256)] | None = None


class QuotaSet(_Event):
    model_config = ConfigDict(
        title="quota_set",
        json_schema_extra={
            "description": (
                "New MRR a rep should close in a month; the latest per (rep_id, month) wins;"
                " key: rep_id." + _FORWARD_COMPATIBLE
            )
        },
    )

    type: Literal["quota_set"] = Field(
        "quota_set", description="When present it must match the topic."
    )
    rep_id: Label
    month: Month = Field(description="YYYY-MM.")
    amount: NonNegativeMoney = Field(description="New MRR to close that month, >= 0.")
    currency: Currency


Event = Annotated[DealWon | SubscriptionCancelled | QuotaSet, Discriminator("type")]
EventAdapter: TypeAdapter[DealWon | SubscriptionCancelled | QuotaSet] = TypeAdapter(Event)
