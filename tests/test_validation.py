"""Validator.decode: every kind of bad input yields its SPEC reason and names the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import DealWon, QuotaSet, SubscriptionCancelled
from stream.config import Settings
from stream.core.facts import CancellationFacts, DealFacts, QuotaFacts
from stream.core.money import FxTable
from stream.validation import Reason, Rejection, TopicKind, Validator, to_facts

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
FX = FxTable("USD", {"EUR": Decimal("1.08")})
VALIDATOR = Validator(fx=FX, max_message_bytes=2048, clock=lambda: NOW)

DEAL: dict[str, Any] = {
    "event_id": "e-1",
    "type": "deal_won",
    "subscription_id": "sub-1",
    "customer_id": "cus-1",
    "rep_id": "juan",
    "closed_at": "2026-03-01T10:00:00Z",
    "mrr": "5000.00",
    "currency": "USD",
}
CANCELLATION: dict[str, Any] = {
    "event_id": "c-1",
    "type": "subscription_cancelled",
    "subscription_id": "sub-1",
    "cancelled_at": "2026-03-10T08:00:00Z",
}
QUOTA: dict[str, Any] = {
    "event_id": "q-1",
    "type": "quota_set",
    "rep_id": "juan",
    "month": "2026-03",
    "amount": 90000,
    "currency": "USD",
}
BASE = {TopicKind.DEALS: DEAL, TopicKind.CANCELLATIONS: CANCELLATION, TopicKind.QUOTAS: QUOTA}


def encode(data: Any) -> bytes:
    return json.dumps(data).encode()


def changed(kind: TopicKind, **changes: Any) -> bytes:
    """The base event of `kind` with fields replaced; a value of ... removes the field."""
    data = {**BASE[kind], **changes}
    return encode({key: value for key, value in data.items() if value is not ...})


def rejected(raw: bytes | None, kind: TopicKind = TopicKind.DEALS) -> Rejection:
    result = VALIDATOR.decode(raw, kind)
    assert isinstance(result, Rejection), f"accepted: {result!r}"
    return result


def assert_schema_error(raw: bytes, kind: TopicKind, field: str) -> None:
    rejection = rejected(raw, kind)
    assert rejection.reason is Reason.SCHEMA
    assert rejection.detail.startswith(f"{field}: "), rejection.detail


def test_base_events_are_accepted() -> None:
    assert isinstance(VALIDATOR.decode(encode(DEAL), TopicKind.DEALS), DealWon)
    assert isinstance(
        VALIDATOR.decode(encode(CANCELLATION), TopicKind.CANCELLATIONS), SubscriptionCancelled
    )
    assert isinstance(VALIDATOR.decode(encode(QUOTA), TopicKind.QUOTAS), QuotaSet)


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"event_id": "e-1",}', b"", b"NaN", b'{"mrr": NaN}']
)
def test_invalid_json(raw: bytes) -> None:
    rejection = rejected(raw)
    assert rejection.reason is Reason.INVALID_JSON
    assert rejection.detail.startswith("value: not JSON")


def test_null_value_is_invalid_json() -> None:
    assert rejected(None) == Rejection(
        Reason.INVALID_JSON, "value: the message has no value (null)"
    )


@pytest.mark.parametrize(
    ("raw", "got"),
    [(b"[]", "an array"), (b'"deal"', "a string"), (b"42", "a number"), (b"null", "null")],
)
def test_json_that_is_not_an_object(raw: bytes, got: str) -> None:
    assert rejected(raw) == Rejection(Reason.SCHEMA, f"value: must be a JSON object, got {got}")


def test_non_utf8_bytes() -> None:
    rejection = rejected(b'{"event_id": "\xff\xfe"}')
    assert rejection.reason is Reason.INVALID_JSON
    assert rejection.detail.startswith("value: not UTF-8")
    assert "byte 14" in rejection.detail


REQUIRED = (
    [
        (TopicKind.DEALS, field)
        for field in (
            "event_id",
            "subscription_id",
            "customer_id",
            "rep_id",
            "closed_at",
            "currency",
        )
    ]
    + [
        (TopicKind.CANCELLATIONS, field)
        for field in ("event_id", "subscription_id", "cancelled_at")
    ]
    + [(TopicKind.QUOTAS, field) for field in ("event_id", "rep_id", "month", "amount", "currency")]
)


@pytest.mark.parametrize(("kind", "field"), REQUIRED)
def test_missing_required_field(kind: TopicKind, field: str) -> None:
    rejection = rejected(changed(kind, **{field: ...}), kind)
    assert rejection == Rejection(Reason.SCHEMA, f"{field}: Field required")


OUT_OF_BOUNDS = [
    (TopicKind.DEALS, "event_id", ""),
    (TopicKind.DEALS, "event_id", "e" * 129),
    (TopicKind.DEALS, "event_id", 17),
    (TopicKind.DEALS, "subscription_id", ""),
    (TopicKind.DEALS, "subscription_id", "s" * 129),
    (TopicKind.DEALS, "subscription_id", "sub-\ud800"),
    (TopicKind.DEALS, "deal_id", ""),
    (TopicKind.DEALS, "deal_id", "d" * 129),
    (TopicKind.DEALS, "customer_id", ""),
    (TopicKind.DEALS, "customer_id", "c" * 129),
    (TopicKind.DEALS, "rep_id", ""),
    (TopicKind.DEALS, "rep_id", "r" * 65),
    (TopicKind.DEALS, "rep_id", "juan perez"),
    (TopicKind.DEALS, "rep_id", 'juan"}'),
    (TopicKind.DEALS, "rep_name", "n" * 129),
    (TopicKind.DEALS, "lead_source", ""),
    (TopicKind.DEALS, "lead_source", "l" * 65),
    (TopicKind.DEALS, "lead_source", "web site"),
    (TopicKind.DEALS, "closed_at", "1999-12-31T23:59:59Z"),
    (TopicKind.DEALS, "closed_at", "2000-01-01T00:59:59+01:00"),
    (TopicKind.DEALS, "mrr", 0),
    (TopicKind.DEALS, "mrr", "-5"),
    (TopicKind.DEALS, "mrr", 1000000000.01),
    (TopicKind.DEALS, "mrr", "5,000.00"),
    (TopicKind.DEALS, "mrr", "1e3"),
    (TopicKind.DEALS, "mrr", True),
    (TopicKind.DEALS, "currency", "usd"),
    (TopicKind.DEALS, "currency", "US"),
    (TopicKind.DEALS, "currency", "USDT"),
    (TopicKind.DEALS, "type", 5),
    (TopicKind.CANCELLATIONS, "cancelled_at", "1999-12-31T23:59:59Z"),
    (TopicKind.CANCELLATIONS, "effective_at", "1999-12-31T23:59:59Z"),
    (TopicKind.CANCELLATIONS, "effective_at", "2026-04-01T00:00:00"),
    (TopicKind.CANCELLATIONS, "reason", "r" * 257),
    (TopicKind.QUOTAS, "month", "2026-13"),
    (TopicKind.QUOTAS, "month", "2026-3"),
    (TopicKind.QUOTAS, "month", "2026-03-01"),
    (TopicKind.QUOTAS, "amount", -1),
    (TopicKind.QUOTAS, "amount", 1000000001),
    (TopicKind.QUOTAS, "rep_id", "juan/perez"),
]


@pytest.mark.parametrize(("kind", "field", "value"), OUT_OF_BOUNDS)
def test_field_out_of_bounds(kind: TopicKind, field: str, value: Any) -> None:
    assert_schema_error(changed(kind, **{field: value}), kind, field)


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "15000.00"), ("billing_period", "quarter")],
)
def test_mrr_with_amount_or_billing_period(field: str, value: str) -> None:
    assert_schema_error(changed(TopicKind.DEALS, **{field: value}), TopicKind.DEALS, "mrr")


def test_amount_without_billing_period() -> None:
    raw = changed(TopicKind.DEALS, mrr=..., amount="15000.00")
    assert_schema_error(raw, TopicKind.DEALS, "mrr")


def test_neither_mrr_nor_amount() -> None:
    assert_schema_error(changed(TopicKind.DEALS, mrr=...), TopicKind.DEALS, "mrr")


def test_billing_period_out_of_its_set() -> None:
    raw = changed(TopicKind.DEALS, mrr=..., amount="100", billing_period="week")
    assert_schema_error(raw, TopicKind.DEALS, "billing_period")


@pytest.mark.parametrize(
    "value", ["2026-03-01T10:00:00", "2026-03-01", "yesterday", "2026-02-30T10:00:00Z", 1772359200]
)
def test_naive_or_unparsable_timestamp(value: Any) -> None:
    assert_schema_error(changed(TopicKind.DEALS, closed_at=value), TopicKind.DEALS, "closed_at")


def test_closed_at_more_than_24h_ahead() -> None:
    ahead = (NOW + timedelta(hours=24, seconds=1)).isoformat()
    rejection = rejected(changed(TopicKind.DEALS, closed_at=ahead))
    assert rejection.reason is Reason.FUTURE_TIMESTAMP
    assert rejection.detail.startswith("closed_at: 2026-03-15T12:00:01+00:00 is more than 24 h")


def test_closed_at_exactly_24h_ahead_is_accepted() -> None:
    at_limit = (NOW + timedelta(hours=24)).isoformat()
    event = VALIDATOR.decode(changed(TopicKind.DEALS, closed_at=at_limit), TopicKind.DEALS)
    assert isinstance(event, DealWon)
    assert event.closed_at == NOW + timedelta(hours=24)


def test_cancelled_at_more_than_24h_ahead() -> None:
    ahead = "2026-03-16T00:00:00+02:00"
    rejection = rejected(
        changed(TopicKind.CANCELLATIONS, cancelled_at=ahead), TopicKind.CANCELLATIONS
    )
    assert rejection.reason is Reason.FUTURE_TIMESTAMP
    assert rejection.detail.startswith("cancelled_at: ")


def test_effective_at_may_be_far_in_the_future() -> None:
    raw = changed(TopicKind.CANCELLATIONS, effective_at="2027-03-01T00:00:00Z")
    event = VALIDATOR.decode(raw, TopicKind.CANCELLATIONS)
    assert isinstance(event, SubscriptionCancelled)
    assert event.effective_at == datetime(2027, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("kind", [TopicKind.DEALS, TopicKind.QUOTAS])
def test_unknown_currency(kind: TopicKind) -> None:
    rejection = rejected(changed(kind, currency="JPY"), kind)
    assert rejection.reason is Reason.UNSUPPORTED_CURRENCY
    assert rejection.detail.startswith("currency: JPY is not the base currency USD")


@pytest.mark.parametrize(
    ("kind", "other"),
    [
        (TopicKind.DEALS, "quota_set"),
        (TopicKind.CANCELLATIONS, "deal_won"),
        (TopicKind.QUOTAS, "subscription_cancelled"),
        (TopicKind.DEALS, "deal_lost"),
    ],
)
def test_type_not_matching_the_topic(kind: TopicKind, other: str) -> None:
    assert rejected(changed(kind, type=other), kind) == Rejection(
        Reason.WRONG_TOPIC, f"type: {other!r} on the {kind} topic"
    )


def test_oversized_message_is_rejected_before_parsing() -> None:
    raw = b"{" + b" " * 2048 + b"}"  # would parse, but is one byte too many
    assert rejected(raw) == Rejection(
        Reason.TOO_LARGE, "value: 2050 bytes, more than the limit of 2048"
    )
    padded = changed(TopicKind.DEALS, rep_name="x")
    at_limit = padded[:-1] + b" " * (2048 - len(padded)) + b"}"
    assert len(at_limit) == 2048
    assert isinstance(VALIDATOR.decode(at_limit, TopicKind.DEALS), DealWon)


def test_type_may_be_absent_and_extra_fields_are_ignored() -> None:
    event = VALIDATOR.decode(changed(TopicKind.DEALS, type=..., plan="gold"), TopicKind.DEALS)
    assert isinstance(event, DealWon)
    assert event.type == "deal_won"
    assert not hasattr(event, "plan")


def test_money_keeps_every_digit_of_a_json_number() -> None:
    raw = (
        b'{"event_id":"e","subscription_id":"s","customer_id":"c","rep_id":"r",'
        b'"closed_at":"2026-03-01T00:00:00Z","currency":"USD",'
        b'"mrr":0.1000000000000000055511151231257827}'
    )
    event = VALIDATOR.decode(raw, TopicKind.DEALS)
    assert isinstance(event, DealWon)
    assert event.mrr == Decimal("0.1000000000000000055511151231257827")


def test_decode_any_uses_the_type_field() -> None:
    assert isinstance(VALIDATOR.decode_any(encode(QUOTA)), QuotaSet)
    assert isinstance(VALIDATOR.decode_any(encode(CANCELLATION)), SubscriptionCancelled)
    no_type = VALIDATOR.decode_any(changed(TopicKind.DEALS, type=...))
    assert isinstance(no_type, Rejection)
    assert no_type.reason is Reason.SCHEMA
    assert no_type.detail.startswith("type: must be one of deal_won, ")
    assert rejected(b"[1]").reason is Reason.SCHEMA


def test_from_settings_uses_the_configured_rates_and_limit() -> None:
    configured = Settings(fx_rates={"GBP": Decimal("1.27")}, max_message_bytes=100)
    validator = Validator.from_settings(configured, clock=lambda: NOW)
    assert validator.fx == FxTable("USD", {"GBP": Decimal("1.27")})
    assert validator.decode(b" " * 101, TopicKind.DEALS) == Rejection(
        Reason.TOO_LARGE, "value: 101 bytes, more than the limit of 100"
    )


# -- properties: no input makes decode raise -------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    sorted(
        {name for base in BASE.values() for name in base}
        | {
            "deal_id",
            "rep_name",
            "lead_source",
            "amount",
            "billing_period",
            "effective_at",
            "reason",
        }
    )
)


@settings(max_examples=300)
@given(raw=st.binary(max_size=300), kind=st.sampled_from(TopicKind))
def test_arbitrary_bytes_never_raise(raw: bytes, kind: TopicKind) -> None:
    assert isinstance(
        VALIDATOR.decode(raw, kind), DealWon | SubscriptionCancelled | QuotaSet | Rejection
    )


@settings(max_examples=300)
@given(value=json_values, kind=st.sampled_from(TopicKind))
def test_arbitrary_json_never_raises(value: Any, kind: TopicKind) -> None:
    # No value drawn here is a complete event: every one is rejected, none raises.
    assert isinstance(VALIDATOR.decode(json.dumps(value).encode(), kind), Rejection)


@settings(max_examples=500)
@given(
    kind=st.sampled_from(TopicKind),
    overrides=st.dictionaries(field_names, json_values | st.text(max_size=40), max_size=4),
)
def test_near_valid_events_never_raise(kind: TopicKind, overrides: dict[str, Any]) -> None:
    result = VALIDATOR.decode(encode({**BASE[kind], **overrides}), kind)
    assert isinstance(result, DealWon | SubscriptionCancelled | QuotaSet | Rejection)
    if isinstance(result, Rejection):
        assert result.detail


# -- to_facts ---------------------------------------------------------------------------


def decoded(kind: TopicKind, **changes: Any) -> DealWon | SubscriptionCancelled | QuotaSet:
    event = VALIDATOR.decode(changed(kind, **changes), kind)
    assert not isinstance(event, Rejection), event
    return event


def test_deal_facts_from_mrr() -> None:
    facts = to_facts(decoded(TopicKind.DEALS, lead_source="OutBound", rep_name="Juan"), FX)
    assert facts == DealFacts(
        event_id="e-1",
        subscription_id="sub-1",
        deal_id="sub-1",
        customer_id="cus-1",
        rep_id="juan",
        rep_name="Juan",
        lead_source="outbound",
        closed_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
        mrr=Decimal("5000.00"),
    )


@pytest.mark.parametrize(
    ("amount", "period", "currency", "mrr"),
    [
        ("15000.00", "quarter", "USD", Decimal("5000.00")),
        ("100", "quarter", "USD", Decimal("33.33")),
        ("60000", "year", "USD", Decimal("5000.00")),
        ("1000.00", "month", "EUR", Decimal("1080.00")),
        ("100", "quarter", "EUR", Decimal("36.00")),
    ],
)
def test_deal_facts_from_amount(amount: str, period: str, currency: str, mrr: Decimal) -> None:
    event = decoded(
        TopicKind.DEALS, mrr=..., amount=amount, billing_period=period, currency=currency
    )
    facts = to_facts(event, FX)
    assert isinstance(facts, DealFacts)
    assert facts.mrr == mrr


def test_deal_facts_keep_an_explicit_deal_id_and_convert_closed_at_to_utc() -> None:
    facts = to_facts(
        decoded(TopicKind.DEALS, deal_id="deal-9", closed_at="2026-03-01T01:30:00+02:00"), FX
    )
    assert isinstance(facts, DealFacts)
    assert facts.deal_id == "deal-9"
    assert facts.closed_at == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    assert facts.closed_at.utcoffset() == timedelta(0)


def test_cancellation_facts_default_effective_at_to_cancelled_at() -> None:
    assert to_facts(decoded(TopicKind.CANCELLATIONS, reason="price"), FX) == CancellationFacts(
        event_id="c-1",
        subscription_id="sub-1",
        cancelled_at=datetime(2026, 3, 10, 8, tzinfo=UTC),
        effective_at=datetime(2026, 3, 10, 8, tzinfo=UTC),
        reason="price",
    )


def test_quota_facts_convert_the_amount() -> None:
    assert to_facts(
        decoded(TopicKind.QUOTAS, amount="50000.005", currency="EUR"), FX
    ) == QuotaFacts(event_id="q-1", rep_id="juan", month="2026-03", amount=Decimal("54000.01"))
