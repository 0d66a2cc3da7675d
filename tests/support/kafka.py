"""Test helpers for the real broker: readiness, unique names, topic creation."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

ROOT = Path(__file__).resolve().parents[2]
KAFKA_LOCAL = ROOT / "scripts" / "kafka-local"
PING = ROOT / "scripts" / "kafka" / "ping.py"


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
