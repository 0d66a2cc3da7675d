"""The project's Kafka topics: create them (idempotently); check them before the worker starts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError

from stream.config import Settings
from stream.kafka_failures import explain

if TYPE_CHECKING:
    from stream.cli import Subparsers

__all__ = [
    "TopicSpec",
    "TopicsError",
    "TopicsReport",
    "check_input_topics",
    "create_topics",
    "partition_counts",
    "register",
    "replication_factor",
    "topic_specs",
]

_OK = 0
_TOPIC_ALREADY_EXISTS = 36
_UNKNOWN_TOPIC = 3
_CREATE_HINT = "run `retained-mrr topics create`"


class TopicsError(RuntimeError):
    """The topics are missing or inconsistent; the message says how to fix it."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicsReport:
    created: list[str]
    existing: list[str]
    partitions: dict[str, int]
    errors: list[str]
    warnings: list[str]


def topic_specs(settings: Settings) -> tuple[TopicSpec, ...]:
    return (
        TopicSpec(settings.topic_deals, settings.partitions),
        TopicSpec(settings.topic_cancellations, settings.partitions),
        # Keyed by rep_id (SPEC), so compaction would keep only each rep's latest month:
        # quotas are kept forever instead; they are few.
        TopicSpec(settings.topic_quotas, settings.partitions, {"retention.ms": "-1"}),
        # Dead letters are evidence for upstream teams; they must outlive any incident.
        TopicSpec(settings.topic_dead_letter, settings.partitions, {"retention.ms": "-1"}),
    )


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.app_id}-topics",
        **settings.kafka_client_options(),
    )


def _counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic in admin.describe_topics(names):
        if topic["error_code"] == _OK:
            counts[topic["name"]] = len(topic["partitions"])
        elif topic["error_code"] != _UNKNOWN_TOPIC:
            raise TopicsError(f"cannot describe topic {topic['name']}: error {topic['error_code']}")
    return counts


def _join_mismatch(settings: Settings, counts: Mapping[str, int]) -> str | None:
    deals = counts.get(settings.topic_deals)
    cancellations = counts.get(settings.topic_cancellations)
    if deals is None or cancellations is None or deals == cancellations:
        return None
    smaller = settings.topic_deals if deals < cancellations else settings.topic_cancellations
    return (
        f"{settings.topic_deals} has {deals} partitions but {settings.topic_cancellations} has"
        f" {cancellations}; they must be equal so that a subscription's deal and cancellations"
        " meet in the same partition. Fix: create both anew with the same count and re-publish,"
        " or, while they hold no data, kafka-topics.sh --alter"
        f" --topic {smaller} --partitions {max(deals, cancellations)}"
    )


def _config_drift(admin: KafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    wanted = [spec for spec in specs if spec.configs]
    if not wanted:
        return []
    described: dict[str, Any] = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, spec.name) for spec in wanted]
    )["topic"]
    warnings = []
    for spec in wanted:
        actual = described.get(spec.name, {})
        for key, value in spec.configs.items():
            if actual.get(key, {}).get("value") != value:
                warnings.append(
                    f"{spec.name}: {key} should be {value}; fix: kafka-configs.sh --alter"
                    f" --entity-type topics --entity-name {spec.name} --add-config {key}={value}"
                )
    return warnings


def create_topics(settings: Settings) -> TopicsReport:
    """Create every missing topic; report the ones that existed and any inconsistency."""
    specs = topic_specs(settings)
    admin = _admin(settings)
    try:
        # replication_factor -1: the broker's default.replication.factor decides.
        response = admin.create_topics(
            {
                spec.name: {"num_partitions": spec.partitions, "configs": dict(spec.configs)}
                for spec in specs
            },
            raise_errors=False,
            wait_for_metadata=True,
        )
        created, existing = [], []
        for topic in response["topics"]:
            if topic["error_code"] == _OK:
                created.append(topic["name"])
            elif topic["error_code"] == _TOPIC_ALREADY_EXISTS:
                existing.append(topic["name"])
            else:
                raise TopicsError(f"cannot create topic {topic['name']}: {topic['error_message']}")
        counts = _counts(admin, [spec.name for spec in specs])
        warnings = _config_drift(admin, [spec for spec in specs if spec.name in existing])
    finally:
        admin.close()
    mismatch = _join_mismatch(settings, counts)
    return TopicsReport(created, existing, counts, [mismatch] if mismatch else [], warnings)


def partition_counts(settings: Settings, names: list[str]) -> dict[str, int]:
    """Partitions of each named topic that exists; missing topics are left out."""
    admin = _admin(settings)
    try:
        return _counts(admin, names)
    finally:
        admin.close()


def replication_factor(settings: Settings, topic: str) -> int:
    """How many replicas the partitions of an existing `topic` have."""
    admin = _admin(settings)
    try:
        [described] = admin.describe_topics([topic])
    finally:
        admin.close()
    if described["error_code"] != _OK:
        raise TopicsError(f"cannot describe topic {topic}: error {described['error_code']}")
    return len(described["partitions"][0]["replica_nodes"])


def check_input_topics(settings: Settings) -> dict[str, int]:
    """Partition counts of the worker's topics; raise `TopicsError` unless all exist (the
    dead-letter topic too: without it rejections would stall the worker) and deals and
    cancellations co-partition."""
    names = [
        settings.topic_deals,
        settings.topic_cancellations,
        settings.topic_quotas,
        settings.topic_dead_letter,
    ]
    counts = partition_counts(settings, names)
    missing = [name for name in names if name not in counts]
    if missing:
        raise TopicsError(f"missing topics: {', '.join(missing)}; {_CREATE_HINT}")
    mismatch = _join_mismatch(settings, counts)
    if mismatch:
        raise TopicsError(mismatch)
    return counts


def _run_create(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        report = create_topics(settings)
    except (KafkaError, TopicsError) as error:
        print(f"error: {explain(error)}", file=sys.stderr)
        return 1
    for name in report.created:
        print(f"created {name} ({report.partitions.get(name)} partitions)")
    for name in report.existing:
        print(f"exists  {name} ({report.partitions.get(name)} partitions)")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in report.errors:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if report.errors else 0


def register(subparsers: Subparsers) -> None:
    topics = subparsers.add_parser("topics", help="manage the Kafka topics")
    actions = topics.add_subparsers(title="actions", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create every topic (idempotent)",
        description="Create the deals, cancellations, quotas (kept forever) and dead-letter"
        " (kept forever) topics with RETAINED_MRR_PARTITIONS partitions. Existing topics are"
        " left alone and reported; exits 1 if deals and cancellations differ in partitions.",
    )
    create.set_defaults(handler=_run_create)
