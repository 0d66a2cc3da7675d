"""Test helpers for the real broker: readiness, unique names, topic creation."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
KAFKA_LOCAL = ROOT / "scripts" / "kafka-local"
PING = ROOT / "scripts" / "kafka" / "ping.py"


# The SASL user of scripts/kafka-local's SASL listeners.
SASL_USER = "developer"
SASL_PASSWORD = "developer-secret"


@dataclass(frozen=True)
class PrivateBroker:
    """A `scripts/kafka-local` broker of one test's own: its home, ports and commands."""

    home: Path
    port: int
    sasl_port: int | None = None  # SASL_PLAINTEXT
    sasl_ssl_port: int | None = None

    @classmethod
    def create(cls, home: Path, *, sasl: bool = False) -> PrivateBroker:
        """Free ports (the controller's, port + 1, too), and the project's fetched jars
        shared so that none are downloaded again.
        With `sasl`, a SASL_PLAINTEXT and a SASL_SSL listener too."""
        home.mkdir(parents=True)
        version_dir = next((ROOT / ".cache" / "kafka").glob("[0-9]*"), None)
        if version_dir is not None:
            (home / version_dir.name).symlink_to(version_dir)
        port = free_port(following=1)
        if not sasl:
            return cls(home, port)
        return cls(home, port, free_port(), free_port())

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        assert self.sasl_port is not None, "created without sasl=True"
        return f"localhost:{self.sasl_port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        assert self.sasl_ssl_port is not None, "created without sasl=True"
        return f"localhost:{self.sasl_ssl_port}"

    @property
    def ca_file(self) -> Path:
        """The self-signed certificate of the SASL_SSL listener."""
        return self.home / "tls" / "ca.pem"

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        env = os.environ | {
            "KAFKA_LOCAL_PORT": str(self.port),
            "KAFKA_LOCAL_HOME": str(self.home),
            "RETAINED_MRR_KAFKA_BOOTSTRAP": self.bootstrap,
        }
        if self.sasl_port is not None:
            env["KAFKA_LOCAL_SASL_PORT"] = str(self.sasl_port)
        if self.sasl_ssl_port is not None:
            env["KAFKA_LOCAL_SASL_SSL_PORT"] = str(self.sasl_ssl_port)
        return subprocess.run(
            [str(KAFKA_LOCAL), command], env=env, capture_output=True, text=True, check=False
        )


def bootstrap_from_env() -> str:
    return os.environ.get("RETAINED_MRR_KAFKA_BOOTSTRAP", "localhost:9092")


def answers(bootstrap: str) -> bool:
    probe = subprocess.run([sys.executable, str(PING), bootstrap], capture_output=True, check=False)
    return probe.returncode == 0


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses, valid for topics and groups."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_topics(bootstrap: str, names: Iterable[str], partitions: int = 1) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="tests")
    try:
        admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0) -> list[object]:
    """Read `expected` records from the start of `topic`, or fail after `timeout_s`."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    records: list[object] = []
    try:
        for record in consumer:
            records.append(record)
            if len(records) >= expected:
                break
    finally:
        consumer.close()
    assert len(records) == expected, f"read {len(records)} of {expected} records from {topic}"
    return records
