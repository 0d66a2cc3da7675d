"""Shared fixtures: the real Kafka broker, started once per session when none answers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.support.kafka import KAFKA_LOCAL, PrivateBroker, answers, bootstrap_from_env

# Tests that use one of these need a real broker: `-m "not kafka"` leaves them out.
_BROKER_FIXTURES = ("kafka_bootstrap", "sasl_broker")


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


@pytest.fixture(scope="session")
def sasl_broker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateBroker]:
    """A broker of its own with SASL_PLAINTEXT and SASL_SSL listeners (PLAIN and
    SCRAM-SHA-512), for the settings a managed cluster needs. It starts after the
    session broker, whose start fetches the jars this one shares."""
    broker = PrivateBroker.create(tmp_path_factory.mktemp("sasl") / "kafka", sasl=True)
    started = broker.run("start")
    assert started.returncode == 0, started.stderr
    try:
        yield broker
    finally:
        broker.run("stop")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark broker tests by the fixture they use, so `-m "not kafka"` runs the pure ones."""
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in _BROKER_FIXTURES):
            item.add_marker(pytest.mark.kafka)
