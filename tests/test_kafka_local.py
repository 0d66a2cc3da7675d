"""scripts/kafka-local on its own port and home: idempotent start, status, stop, and a
restart that keeps the topics. (The session broker is left alone.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from tests.support.kafka import PrivateBroker, create_topics
from tests.support.net import free_port

# It starts a broker of its own: not for `make test-fast`.
pytestmark = pytest.mark.kafka


def topics(bootstrap: str) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def test_start_twice_status_stop_and_restart_keeps_topics(tmp_path: Path) -> None:
    broker = PrivateBroker.create(tmp_path / "kafka")
    bootstrap = broker.bootstrap
    try:
        first = broker.run("start")
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == bootstrap
        again = broker.run("start")
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == bootstrap
        # A listener asked of a broker already running is not there: say so.
        sasl_port = free_port()
        wanting_sasl = dataclasses.replace(broker, sasl_port=sasl_port).run("start")
        assert wanting_sasl.returncode == 0
        assert f"no SASL_PLAINTEXT listener on {sasl_port}; run" in wanting_sasl.stderr
        status = broker.run("status")
        assert status.returncode == 0
        assert status.stdout.startswith(f"running: {bootstrap} (pid ")

        create_topics(bootstrap, ["kept-across-restart"], partitions=3)
        assert broker.run("stop").returncode == 0
        stopped = broker.run("status")
        assert stopped.returncode == 3
        assert stopped.stdout.startswith("stopped:")

        assert broker.run("start").returncode == 0
        assert "kept-across-restart" in topics(bootstrap)
    finally:
        broker.run("stop")
    assert broker.run("status").returncode == 3
