"""`retained-mrr worker`: check the input topics, build the Faust app, run it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

import faust
from kafka.errors import KafkaError

from stream.app import Input, build_app
from stream.config import Settings
from stream.kafka_failures import explain
from stream.topics import TopicsError, check_input_topics, replication_factor
from stream.validation import TopicKind


def inputs(settings: Settings, counts: Mapping[str, int]) -> list[Input]:
    return [
        Input(TopicKind.DEALS, settings.topic_deals, counts[settings.topic_deals]),
        Input(
            TopicKind.CANCELLATIONS,
            settings.topic_cancellations,
            counts[settings.topic_cancellations],
        ),
        Input(TopicKind.QUOTAS, settings.topic_quotas, counts[settings.topic_quotas]),
    ]


def run(settings: Settings) -> int:
    """Run until stopped by a signal. Refuses to start, saying how to fix it, when the
    input topics are missing or deals and cancellations differ in partition count."""
    logging.basicConfig(level=settings.log_level.upper())
    if settings.log_level != "debug":
        # kafka-python only runs the topic check here, and retries noisily; when it
        # fails, kafka_failures names the cause in one line.
        logging.getLogger("kafka").propagate = False
    try:
        topology = inputs(settings, check_input_topics(settings))
        # The worker's own topics hold the source of truth: as safe as its inputs.
        replication = settings.replication_factor or replication_factor(
            settings, settings.topic_deals
        )
    except (KafkaError, TopicsError) as error:
        print(f"retained-mrr worker: {explain(error)}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    worker = build_app(settings, topology, replication)
    faust.Worker(worker.app, loglevel=settings.log_level).execute_from_commandline()
    return 0
