"""JSON text of events without binary floats: numbers parse to `Decimal` and
`Decimal`s are written back as JSON numbers with every digit."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

__all__ = ["dumps", "loads"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON with every number as `Decimal` (ints too: no digit limit, one type).

    Raises `ValueError` (incl. `json.JSONDecodeError`) on text that is not JSON,
    including the NaN/Infinity literals Python would otherwise accept.
    """
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)


def _rfc3339(value: datetime) -> str:
    text = value.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _token(value: Any) -> str:
    if isinstance(value, Decimal):
        # str() of a finite Decimal is valid JSON number syntax (e.g. 1250.50, 1E+3).
        return str(value)
    if isinstance(value, datetime):
        return json.dumps(_rfc3339(value))
    return json.dumps(value, ensure_ascii=False)


def dumps(event: BaseModel) -> bytes:
    """UTF-8 JSON of a (flat) event model; fields that are None are left out."""
    fields = event.model_dump(exclude_none=True)
    body = ",".join(f"{json.dumps(name)}:{_token(value)}" for name, value in fields.items())
    return ("{" + body + "}").encode()
