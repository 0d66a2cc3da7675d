"""The event models, their JSON Schema files and the examples agree with each other."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

import schemas
from schemas import documents
from schemas.encoding import dumps, loads
from schemas.events import DealWon, EventAdapter, QuotaSet, SubscriptionCancelled

EXAMPLES = sorted((documents.SCHEMA_DIR / "examples").glob("*.json"))
MODELS: dict[str, type[BaseModel]] = {
    "deal_won": DealWon,
    "subscription_cancelled": SubscriptionCancelled,
    "quota_set": QuotaSet,
}


def schema_of(name: str) -> Draft202012Validator:
    document = json.loads((documents.SCHEMA_DIR / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document, format_checker=Draft202012Validator.FORMAT_CHECKER)


def kind_of(example: Path) -> str:
    return example.name.split(".")[0]


def test_committed_schema_files_match_the_models() -> None:
    assert documents.stale() == [], "run `retained-mrr schemas` and commit the result"


def test_write_creates_then_leaves_alone(tmp_path: Path) -> None:
    assert sorted(documents.write(tmp_path)) == [
        "deal_won.schema.json",
        "quota_set.schema.json",
        "subscription_cancelled.schema.json",
    ]
    assert documents.write(tmp_path) == []
    (tmp_path / "quota_set.schema.json").write_text("{}\n")
    assert documents.stale(tmp_path) == ["quota_set.schema.json"]


def test_schema_documents_declare_draft_2020_12_and_forward_compatibility() -> None:
    for name in MODELS:
        document = json.loads((documents.SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["$id"] == f"urn:retained-mrr:schemas:{name}.schema.json"
        assert "Unknown fields are ignored" in document["description"]
        assert document.get("additionalProperties", True) is True


def test_every_variant_has_an_example() -> None:
    assert [example.name for example in EXAMPLES] == [
        "deal_won.eur.json",
        "deal_won.mrr.json",
        "deal_won.quarterly.json",
        "deal_won.yearly.json",
        "quota_set.json",
        "subscription_cancelled.immediate.json",
        "subscription_cancelled.scheduled.json",
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_is_valid_for_the_model_and_the_json_schema(example: Path) -> None:
    data = loads(example.read_bytes())
    event = MODELS[kind_of(example)].model_validate(data)
    assert EventAdapter.validate_python({**data, "type": kind_of(example)}) == event
    schema_of(kind_of(example)).validate(json.loads(example.read_text()))


BAD_DEALS: list[tuple[str, dict[str, Any]]] = [
    ("both mrr and amount", {"amount": 15000, "billing_period": "quarter"}),
    ("neither mrr nor amount", {"mrr": None}),
    ("amount without billing_period", {"mrr": None, "amount": 100}),
    ("mrr zero", {"mrr": 0}),
    ("mrr above 10^9", {"mrr": 1000000001}),
    ("mrr as a formatted string", {"mrr": "5,000"}),
    ("lower-case currency", {"currency": "usd"}),
    ("rep_id with a space", {"rep_id": "juan perez"}),
    ("wrong type", {"type": "quota_set"}),
    ("closed_at not a string", {"closed_at": 1767225600}),
    ("closed_at naive", {"closed_at": "2026-01-10T15:42:00"}),
    ("closed_at without seconds", {"closed_at": "2026-01-10T15:42Z"}),
    ("closed_at a date", {"closed_at": "2026-01-10"}),
]


@pytest.mark.parametrize(("case", "change"), BAD_DEALS, ids=[case for case, _ in BAD_DEALS])
def test_model_and_json_schema_both_reject(case: str, change: dict[str, Any]) -> None:
    data = loads((documents.SCHEMA_DIR / "examples" / "deal_won.mrr.json").read_bytes())
    data = {key: value for key, value in {**data, **change}.items() if value is not None}
    with pytest.raises(ValidationError):
        DealWon.model_validate(data)
    plain = json.loads(json.dumps(data, default=float))
    assert not schema_of("deal_won").is_valid(plain), case


def test_null_counts_as_absent_for_the_model_and_the_json_schema() -> None:
    data = loads((documents.SCHEMA_DIR / "examples" / "deal_won.quarterly.json").read_bytes())
    data["mrr"] = None
    assert DealWon.model_validate(data).mrr is None
    schema_of("deal_won").validate(json.loads(json.dumps(data)))


def test_defaults() -> None:
    deal = DealWon.model_validate(
        {
            "event_id": "e",
            "subscription_id": "sub-1",
            "customer_id": "c",
            "rep_id": "r",
            "closed_at": "2026-01-01T00:00:00Z",
            "mrr": 1,
            "currency": "USD",
        }
    )
    assert (deal.type, deal.deal_id, deal.lead_source, deal.rep_name) == (
        "deal_won",
        "sub-1",
        "unknown",
        None,
    )
    cancellation = SubscriptionCancelled.model_validate(
        {"event_id": "c", "subscription_id": "s", "cancelled_at": "2026-02-01T10:00:00+01:00"}
    )
    assert cancellation.effective_at == datetime(2026, 2, 1, 9, tzinfo=UTC)


def test_lead_source_is_lower_cased() -> None:
    data = loads((documents.SCHEMA_DIR / "examples" / "deal_won.mrr.json").read_bytes())
    assert DealWon.model_validate(data).lead_source == "outbound"


def test_a_float_never_becomes_money() -> None:
    data = loads((documents.SCHEMA_DIR / "examples" / "deal_won.mrr.json").read_bytes())
    with pytest.raises(ValidationError, match="not a float"):
        DealWon.model_validate({**data, "mrr": 0.1})


def test_the_union_parses_a_mixed_stream_by_type() -> None:
    stream = [loads(path.read_bytes()) for path in EXAMPLES]
    events = [EventAdapter.validate_python(data) for data in stream if "type" in data]
    assert [type(event) for event in events] == [
        DealWon,
        DealWon,
        DealWon,
        QuotaSet,
        SubscriptionCancelled,
        SubscriptionCancelled,
    ]
    with pytest.raises(ValidationError, match="Unable to extract tag"):
        EventAdapter.validate_python({"event_id": "e"})


def test_dumps_writes_decimals_as_exact_json_numbers() -> None:
    data = loads((documents.SCHEMA_DIR / "examples" / "deal_won.eur.json").read_bytes())
    data["mrr"] = "1234.5600000000000000001"
    text = dumps(DealWon.model_validate(data))
    assert b'"mrr":1234.5600000000000000001' in text
    assert b'"closed_at":"2026-02-14T10:00:00+01:00"' in text
    assert b"rep_name" not in text
    again = DealWon.model_validate(loads(text))
    assert again == DealWon.model_validate(data)
    assert again.mrr == Decimal("1234.5600000000000000001")


def test_dumps_writes_utc_as_z() -> None:
    event = QuotaSet(
        event_id="q", rep_id="r", month="2026-01", amount=Decimal("1E+3"), currency="USD"
    )
    assert loads(dumps(event)) == {
        "event_id": "q",
        "type": "quota_set",
        "rep_id": "r",
        "month": "2026-01",
        "amount": Decimal(1000),
        "currency": "USD",
    }
    cancellation = SubscriptionCancelled(
        event_id="c", subscription_id="s", cancelled_at=datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert b'"cancelled_at":"2026-01-02T00:00:00Z"' in dumps(cancellation)


def test_loads_rejects_nan_and_infinity() -> None:
    for text in ("NaN", "[Infinity]", '{"a": -Infinity}'):
        with pytest.raises(ValueError, match="is not valid JSON"):
            loads(text)


def test_schemas_imports_without_stream_or_faust() -> None:
    code = (
        "import sys, schemas, schemas.documents;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('stream', 'faust', 'kafka'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api() -> None:
    assert set(schemas.__all__) == {
        "EARLIEST",
        "MAX_MONEY",
        "DealWon",
        "Event",
        "EventAdapter",
        "QuotaSet",
        "SubscriptionCancelled",
        "dumps",
        "loads",
    }
    assert all(hasattr(schemas, name) for name in schemas.__all__)
