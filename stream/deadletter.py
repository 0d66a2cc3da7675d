"""The value written to the dead-letter topic for a rejected message (docs/dead-letters.md)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from stream.validation import Rejection, utc_now

__all__ = ["FORMAT_VERSION", "dead_letter_value"]

FORMAT_VERSION = 1


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _payload(data: bytes | None) -> dict[str, str] | None:
    """Original bytes, readable when they are UTF-8 text, lossless either way."""
    if data is None:
        return None
    try:
        return {"encoding": "utf-8", "data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "data": base64.b64encode(data).decode("ascii")}


def dead_letter_value(
    *,
    key: bytes | None,
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    rejection: Rejection,
    rejected_at: datetime | None = None,
) -> bytes:
    """UTF-8 JSON describing the rejected message; `rejected_at` defaults to now."""
    document: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "reason": str(rejection.reason),
        "detail": rejection.detail,
        "rejected_at": _rfc3339(rejected_at or utc_now()),
        "source": {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp_ms": timestamp_ms,
        },
        "key": _payload(key),
        "value": _payload(value),
    }
    return json.dumps(document, ensure_ascii=False).encode()
