"""JSON-safe encoding of the values stored state holds (Decimal, aware datetime, version)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from stream.core.errors import StateVersionError

__all__ = [
    "VERSION",
    "check_version",
    "decode_datetime",
    "decode_decimal",
    "encode_datetime",
    "encode_decimal",
]

VERSION = 1


def encode_decimal(value: Decimal) -> str:
    # A string keeps every digit; a JSON number would come back as a float.
    return str(value)


def decode_decimal(text: str) -> Decimal:
    return Decimal(text)


def encode_datetime(value: datetime) -> str:
    return value.isoformat()


def decode_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"stored timestamp {text!r} has no UTC offset")
    return value


def check_version(kind: str, data: Mapping[str, Any]) -> None:
    """Refuse state written by another schema version rather than misread it."""
    version = data.get("v")
    if version != VERSION:
        raise StateVersionError(
            f"{kind} state has version {version!r}; this worker reads version {VERSION} only"
        )
