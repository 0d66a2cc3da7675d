"""Dead-letter values keep the original bytes and say where and why (docs/dead-letters.md)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from stream.deadletter import dead_letter_value
from stream.validation import Reason, Rejection

REJECTION = Rejection(Reason.SCHEMA, "closed_at: Input should have timezone info")


def letter(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "key": b"sub-1",
        "value": b'{"event_id": "e-1"}',
        "topic": "deals.won",
        "partition": 3,
        "offset": 1841,
        "timestamp_ms": 1773482400000,
        "rejection": REJECTION,
        "rejected_at": datetime(2026, 3, 14, 11, 0, 1, tzinfo=timezone(timedelta(hours=1))),
    } | overrides
    document: dict[str, Any] = json.loads(dead_letter_value(**arguments))
    return document


def original(payload: dict[str, str] | None) -> bytes | None:
    """The recipe from docs/dead-letters.md."""
    if payload is None:
        return None
    if payload["encoding"] == "base64":
        return base64.b64decode(payload["data"])
    return payload["data"].encode("utf-8")


def test_documented_layout() -> None:
    assert letter() == {
        "format": 1,
        "reason": "schema",
        "detail": "closed_at: Input should have timezone info",
        "rejected_at": "2026-03-14T10:00:01Z",
        "source": {
            "topic": "deals.won",
            "partition": 3,
            "offset": 1841,
            "timestamp_ms": 1773482400000,
        },
        "key": {"encoding": "utf-8", "data": "sub-1"},
        "value": {"encoding": "utf-8", "data": '{"event_id": "e-1"}'},
    }


def test_bytes_that_are_not_utf8_are_base64() -> None:
    value = b"\xff\xfe\x00binary"
    document = letter(value=value, key="clé".encode("latin-1"))
    assert document["value"] == {"encoding": "base64", "data": "//4AYmluYXJ5"}
    assert original(document["value"]) == value
    assert original(document["key"]) == "clé".encode("latin-1")


def test_utf8_text_survives_exactly() -> None:
    value = '{"rep_name": "Jürgen 東京"}\n'.encode()
    document = letter(value=value)
    assert document["value"]["encoding"] == "utf-8"
    assert original(document["value"]) == value


def test_missing_key_value_and_timestamp_are_null() -> None:
    document = letter(key=None, value=None, timestamp_ms=None)
    assert (document["key"], document["value"], document["source"]["timestamp_ms"]) == (
        None,
        None,
        None,
    )


def test_rejected_at_defaults_to_now() -> None:
    before = datetime.now(UTC)
    document = letter(rejected_at=None)
    stamp = datetime.fromisoformat(document["rejected_at"])
    assert stamp.tzinfo is not None
    assert document["rejected_at"].endswith("Z")
    assert before <= stamp <= datetime.now(UTC)


def test_every_reason_is_written_by_its_value() -> None:
    for reason in Reason:
        assert letter(rejection=Rejection(reason, "x: y"))["reason"] == reason.value
