"""Sends simulator records to Kafka exactly as they are: raw bytes, key or null key."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from kafka import KafkaProducer

from stream.config import Settings
from stream.simulate import Record, TopicKind

__all__ = ["KafkaSink", "SendError", "publish_records", "topic_for"]


class SendError(RuntimeError):
    """The broker did not acknowledge every record."""


def topic_for(kind: TopicKind, settings: Settings) -> str:
    topics: dict[TopicKind, str] = {
        "deals": settings.topic_deals,
        "cancellations": settings.topic_cancellations,
        "quotas": settings.topic_quotas,
    }
    return topics[kind]


class KafkaSink:
    """Sends with acks=all; `close()` waits for every acknowledgement and returns
    the acknowledged count per topic, or raises `SendError` naming the first failure."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            client_id=f"{settings.app_id}-simulate",
            # Upstream order within a key matters (a correction after its deal).
            max_in_flight_requests_per_connection=1,
            **settings.kafka_client_options(),
        )
        self._acknowledged: Counter[str] = Counter()
        self._failures: list[BaseException] = []

    def send(self, record: Record) -> None:
        topic = topic_for(record.kind, self._settings)
        key = None if record.key is None else record.key.encode()
        future = self._producer.send(topic, value=record.raw, key=key)
        future.add_callback(self._on_ack, topic)
        future.add_errback(self._failures.append)

    def _on_ack(self, topic: str, _metadata: Any) -> None:
        self._acknowledged[topic] += 1

    def flush(self) -> None:
        """Wait until every record sent so far is acknowledged; raise if one failed."""
        self._producer.flush()
        if self._failures:
            raise SendError(
                f"{len(self._failures)} record(s) not acknowledged: {self._failures[0]!r}"
            )

    def close(self) -> dict[str, int]:
        try:
            self.flush()
        finally:
            self._producer.close()
        return dict(self._acknowledged)


def publish_records(records: Iterable[Record], settings: Settings) -> dict[str, int]:
    """Send every record and wait for the broker; acknowledged count per topic."""
    sink = KafkaSink(settings)
    for record in records:
        sink.send(record)
    return sink.close()
