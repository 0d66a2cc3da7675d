"""What applying one event to keyed state did."""

from __future__ import annotations

from enum import Enum

__all__ = ["Outcome"]


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
