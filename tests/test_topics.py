"""`retained-mrr topics create` and the worker's topic check, against the real broker."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from stream.cli import main
from stream.topics import (
    TopicsError,
    check_input_topics,
    create_topics,
    partition_counts,
    replication_factor,
)
from tests.support.kafka import create_topics as create_plain_topics
from tests.support.settings import export, fresh_settings


def topic_overrides(bootstrap: str, topic: str) -> dict[str, str]:
    """The configs set on the topic itself (not broker defaults)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="tests")
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    return {key: entry["value"] for key, entry in described["topic"][topic].items()}


def test_create_twice_creates_once(kafka_bootstrap: str) -> None:
    settings = fresh_settings(kafka_bootstrap, partitions=3)
    names = [
        settings.topic_deals,
        settings.topic_cancellations,
        settings.topic_quotas,
        settings.topic_dead_letter,
    ]

    first = create_topics(settings)
    assert sorted(first.created) == sorted(names)
    assert first.existing == []
    assert first.partitions == dict.fromkeys(names, 3)
    assert (first.errors, first.warnings) == ([], [])

    second = create_topics(settings)
    assert second.created == []
    assert sorted(second.existing) == sorted(names)
    assert second.partitions == dict.fromkeys(names, 3)
    assert (second.errors, second.warnings) == ([], [])

    assert topic_overrides(kafka_bootstrap, settings.topic_quotas) == {"retention.ms": "-1"}
    assert topic_overrides(kafka_bootstrap, settings.topic_dead_letter) == {"retention.ms": "-1"}
    assert topic_overrides(kafka_bootstrap, settings.topic_deals) == {}
    assert topic_overrides(kafka_bootstrap, settings.topic_cancellations) == {}
    assert check_input_topics(settings) == dict.fromkeys(names, 3)
    # The worker's own topics copy this; the local single node's default is 1.
    assert replication_factor(settings, settings.topic_deals) == 1
    with pytest.raises(TopicsError, match=f"cannot describe topic {settings.app_id}-nothing"):
        replication_factor(settings, f"{settings.app_id}-nothing")


def test_cli_create_prints_what_it_created_then_what_existed(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = fresh_settings(kafka_bootstrap, partitions=2)
    export(settings, monkeypatch)

    assert main(["topics", "create"]) == 0
    out = capsys.readouterr().out
    assert f"created {settings.topic_deals} (2 partitions)" in out
    assert f"created {settings.topic_dead_letter} (2 partitions)" in out

    assert main(["topics", "create"]) == 0
    out = capsys.readouterr().out
    assert "created" not in out
    assert f"exists  {settings.topic_quotas} (2 partitions)" in out
    assert out.count("exists  ") == 4


def test_partition_mismatch_is_an_error_with_the_fix(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = fresh_settings(kafka_bootstrap, partitions=4)
    create_plain_topics(kafka_bootstrap, [settings.topic_cancellations], partitions=2)
    export(settings, monkeypatch)

    assert main(["topics", "create"]) == 1
    captured = capsys.readouterr()
    assert f"exists  {settings.topic_cancellations} (2 partitions)" in captured.out
    assert f"created {settings.topic_deals} (4 partitions)" in captured.out
    assert (
        f"error: {settings.topic_deals} has 4 partitions but {settings.topic_cancellations} has 2"
        in captured.err
    )
    assert f"--topic {settings.topic_cancellations} --partitions 4" in captured.err

    with pytest.raises(TopicsError, match="must be equal") as raised:
        check_input_topics(settings)
    assert f"--topic {settings.topic_cancellations} --partitions 4" in str(raised.value)


def test_existing_quota_topic_that_expires_quotas_gets_a_warning(kafka_bootstrap: str) -> None:
    settings = fresh_settings(kafka_bootstrap, partitions=1)
    create_plain_topics(kafka_bootstrap, [settings.topic_quotas], partitions=1)

    report = create_topics(settings)
    assert report.existing == [settings.topic_quotas]
    assert report.errors == []
    assert report.warnings == [
        f"{settings.topic_quotas}: retention.ms should be -1; fix: kafka-configs.sh"
        f" --alter --entity-type topics --entity-name {settings.topic_quotas}"
        " --add-config retention.ms=-1"
    ]


def test_check_names_the_missing_topics_and_the_command(kafka_bootstrap: str) -> None:
    settings = fresh_settings(kafka_bootstrap, partitions=3)
    create_plain_topics(kafka_bootstrap, [settings.topic_deals], partitions=3)

    with pytest.raises(TopicsError) as raised:
        check_input_topics(settings)
    assert str(raised.value) == (
        f"missing topics: {settings.topic_cancellations}, {settings.topic_quotas},"
        f" {settings.topic_dead_letter}; run `retained-mrr topics create`"
    )
    assert partition_counts(settings, [settings.topic_deals, settings.topic_quotas]) == {
        settings.topic_deals: 3
    }
