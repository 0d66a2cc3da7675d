"""Shared fixtures: the real Kafka broker, started once per session when none answers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.support.kafka import KAFKA_LOCAL, answers, bootstrap_from_env


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a running broker: reuses one that answers, else starts
    `scripts/kafka-local` and stops it again when the session ends."""
    bootstrap = bootstrap_from_env()
    if answers(bootstrap):
        yield bootstrap
        return
    subprocess.run([str(KAFKA_LOCAL), "start"], check=True, stdout=subprocess.DEVNULL)
    try:
        yield bootstrap
    finally:
        subprocess.run([str(KAFKA_LOCAL), "stop"], check=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark broker tests by the fixture they use, so `-m "not kafka"` runs the pure ones."""
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)
