"""The published JSON Schema files (draft 2020-12), generated from the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.events import DealWon, QuotaSet, SubscriptionCancelled

__all__ = ["SCHEMA_DIR", "SCHEMA_URI_BASE", "render", "stale", "write"]

SCHEMA_DIR = Path(__file__).resolve().parent
SCHEMA_URI_BASE = "urn:retained-mrr:schemas:"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
MODELS: tuple[type[BaseModel], ...] = (DealWon, SubscriptionCancelled, QuotaSet)


def _document(model: type[BaseModel], name: str) -> dict[str, Any]:
    return {
        "$schema": DIALECT,
        "$id": f"{SCHEMA_URI_BASE}{name}",
        **model.model_json_schema(mode="validation"),
    }


def render() -> dict[str, str]:
    """File name -> file text of every schema, byte-for-byte what is committed."""
    documents: dict[str, str] = {}
    for model in MODELS:
        name = f"{model.model_config.get('title')}.schema.json"
        documents[name] = json.dumps(_document(model, name), indent=2, ensure_ascii=False) + "\n"
    return documents


def stale(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files in `directory` that are missing or differ from the models."""
    return [
        name
        for name, text in render().items()
        if not (directory / name).is_file() or (directory / name).read_text() != text
    ]


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    """Write the stale schema files; returns their names."""
    documents = render()
    changed = stale(directory)
    for name in changed:
        (directory / name).write_text(documents[name])
    return changed
