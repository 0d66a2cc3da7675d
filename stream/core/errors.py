"""Exceptions of the functional core, all deriving from `CoreError`."""

from __future__ import annotations

__all__ = ["CoreError", "PartitionNotAssignedError", "StateVersionError"]


class CoreError(Exception):
    """Root of every exception the core raises."""


class StateVersionError(CoreError, ValueError):
    """Stored state carries a version this code does not read."""


class PartitionNotAssignedError(CoreError, KeyError):
    """A change was applied to a partition the aggregates do not hold."""
