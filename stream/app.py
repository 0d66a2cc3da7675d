"""The Faust topology: topics, the two changelogged tables, the agents, `/metrics`.

No business rules here. Agents turn Faust events into `Message`s for the
`Processor` and act on its answer (dead-letter, re-route); the tables' recovery
hooks keep the derived per-partition aggregates in step with the active assignment.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from stream.config import Settings
from stream.core.aggregates import Aggregates
from stream.core.quotas import Quota
from stream.core.subscription import Subscription
from stream.deadletter import dead_letter_value
from stream.health import PipelineMetrics
from stream.metrics import RetentionCollector, render
from stream.processor import Limits, Message, Processor, Rejected, Rekey
from stream.validation import TopicKind, Validator, utc_now

logger = logging.getLogger(__name__)


class ReplayingApp(faust.App):
    """Re-reads messages Faust skipped while it recovered the tables at start-up.

    Faust 0.15.3 (with aiokafka 0.14) can drop messages it fetched during table
    recovery (seen after a SIGKILL, when the changelog is ahead of the local state):
    the fetch position moves past them, and the seek to committed offsets that ends
    the rebalance skips partitions without a committed offset, so they are never
    read. Once a rebalance that restored a table from its changelog is over, such a
    partition whose position is ahead of its beginning although nothing was
    processed from it is sent back to the beginning.
    Every event is an idempotent upsert: a message read twice is harmless, a skipped
    one is not. This reads Faust's private read/committed offsets, hence the pin
    to faust-streaming 0.15.
    """

    def on_rebalance_end(self) -> None:
        super().on_rebalance_end()
        restored = [
            table.take_restored()
            for table in self.tables.values()
            if isinstance(table, AggregatedTable)
        ]
        if any(restored):
            self._replay = asyncio.ensure_future(self._replay_skipped())

    async def _replay_skipped(self) -> None:
        consumer: Any = self.consumer
        changelogs = self.tables.changelog_topics
        unread = [
            tp
            for tp in consumer.assignment()
            if tp.topic not in changelogs
            and consumer._committed_offset.get(tp) is None
            and consumer._read_offset.get(tp) is None
        ]
        if not unread:
            return
        earliest = await consumer.earliest_offsets(*unread)
        for tp in unread:
            position = await consumer.position(tp)
            if position is not None and position > earliest[tp]:
                logger.warning("re-reading %s from %d: skipped during recovery", tp, earliest[tp])
                await consumer.seek(tp, earliest[tp])


class AggregatedTable(faust.Table[str, Any]):
    """A table whose derived aggregates cover exactly its actively owned partitions.

    After each rebalance the aggregates of revoked (or re-assigned) partitions are
    dropped; once recovery completes, every active partition without aggregates is
    rebuilt from the table, and standby partitions are never exported.
    """

    def __init__(
        self,
        app: faust.App,
        *,
        aggregates: Aggregates,
        rebuild: Callable[[Aggregates, int, Iterable[Any]], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(app, beacon=app.tables.beacon, **kwargs)
        self.aggregates = aggregates
        self._rebuild = rebuild
        self._restored = False
        app.tables.add(self)

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        super().apply_changelog_batch(batch)
        self._restored = True

    def take_restored(self) -> bool:
        """Whether recovery applied changelog records since the last call."""
        restored, self._restored = self._restored, False
        return restored

    def _own(self, tps: Iterable[TP]) -> set[int]:
        return {tp.partition for tp in tps if tp.topic == self.changelog_topic_name}

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        for partition in self._own(revoked) | self._own(newly_assigned):
            self.aggregates.revoke(partition)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        active = self._own(active_tps)
        for partition in self.aggregates.partitions() - active:
            self.aggregates.revoke(partition)
        missing = active - self.aggregates.partitions()
        if not missing:
            return
        # One pass over the table: this runs once per rebalance, never per event or scrape.
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for value in self.values():
            if value.get("partition") in missing:
                by_partition[value["partition"]].append(value)
        for partition in sorted(missing):
            self._rebuild(self.aggregates, partition, by_partition[partition])
        logger.info("%s: rebuilt aggregates of partitions %s", self.name, sorted(missing))


def _rebuild_deals(aggregates: Aggregates, partition: int, values: Iterable[Any]) -> None:
    aggregates.assign(partition, (Subscription.from_json(v) for v in values))


def _rebuild_quotas(aggregates: Aggregates, partition: int, values: Iterable[Any]) -> None:
    aggregates.assign(partition, (), (Quota.from_json(v) for v in values))


def credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    protocol = settings.security_protocol
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=settings.ssl_cafile or None)
    if protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


@dataclass(frozen=True)
class Input:
    kind: TopicKind
    topic: str
    partitions: int


def rekeyed_topic_name(settings: Settings, topic: str) -> str:
    return f"{settings.app_id}-rekeyed-{topic}"


@dataclass
class Worker:
    app: faust.App
    processor: Processor
    deals: Aggregates
    quotas: Aggregates
    registry: CollectorRegistry


def build_app(
    settings: Settings,
    inputs: Iterable[Input],
    replication_factor: int,
    clock: Callable[[], datetime] = utc_now,
) -> Worker:
    """The app over `inputs`; its changelog and re-keying topics get `replication_factor`."""
    inputs = list(inputs)
    by_kind = {i.kind: i for i in inputs}
    app = ReplayingApp(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=credentials(settings),
        store=settings.store,
        datadir=str(settings.data_dir),
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        consumer_auto_offset_reset="earliest",
        topic_replication_factor=replication_factor,
        topic_allow_declare=True,
        # Every event writes the changelog; lingering lets those writes share requests.
        producer_linger=0.01,
    )
    deals = Aggregates(clock, settings.cohort_months)
    quotas = Aggregates(clock, settings.cohort_months)
    subscriptions = AggregatedTable(
        app,
        name="subscriptions",
        partitions=by_kind[TopicKind.DEALS].partitions,
        key_type=str,
        aggregates=deals,
        rebuild=_rebuild_deals,
    )
    quota_table = AggregatedTable(
        app,
        name="quotas",
        partitions=by_kind[TopicKind.QUOTAS].partitions,
        key_type=str,
        aggregates=quotas,
        rebuild=_rebuild_quotas,
    )

    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    processor = Processor(
        validator=Validator.from_settings(settings, clock),
        subscriptions=subscriptions,
        quotas=quota_table,
        deals=deals,
        quota_totals=quotas,
        limits=Limits(settings.max_reps, settings.max_lead_sources),
        metrics=metrics,
    )
    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, "faust"))
    _serve_metrics(app, registry, deals, quotas)

    dead_letters = app.topic(
        settings.topic_dead_letter, key_serializer="raw", value_serializer="raw"
    )
    for spec in inputs:
        source = app.topic(spec.topic, key_serializer="raw", value_serializer="raw")
        rekeyed = app.topic(
            rekeyed_topic_name(settings, spec.topic),
            partitions=spec.partitions,
            internal=True,
            key_serializer="raw",
            value_serializer="raw",
        )
        for topic in (source, rekeyed):
            _add_agent(
                app,
                topic=topic,
                spec=spec,
                processor=processor,
                rekeyed=rekeyed,
                dead_letters=dead_letters,
            )
    return Worker(app, processor, deals, quotas, registry)


def _serve_metrics(
    app: faust.App, registry: CollectorRegistry, deals: Aggregates, quotas: Aggregates
) -> None:
    """`/metrics`: the health counters, Faust's sensors and a snapshot of the business
    series, all taken at one instant of the event loop, which owns them, so that the
    counters never show an event the series do not. The business text, most of a
    scrape's cost (about 0.3 s for 130k series), is rendered in a thread so that the
    agents go on processing meanwhile."""

    @app.page("/metrics")
    async def metrics(self: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        pipeline = generate_latest(registry)  # a few hundred samples
        business = RetentionCollector.now(deals, quotas)
        text = await asyncio.get_running_loop().run_in_executor(None, render, business)
        return self.bytes(pipeline + text, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _add_agent(
    app: faust.App,
    *,
    topic: faust.TopicT,
    spec: Input,
    processor: Processor,
    rekeyed: faust.TopicT,
    dead_letters: faust.TopicT,
) -> None:
    async def consume(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            record = event.message
            timestamp_ms = int(record.timestamp * 1000) if record.timestamp else None
            message = Message(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                timestamp_ms=timestamp_ms,
                key=record.key,
                value=record.value,
            )
            result = processor.process(spec.kind, message, source_topic=spec.topic)
            if isinstance(result, Rejected):
                await dead_letters.send(
                    key=record.key,
                    value=dead_letter_value(
                        key=record.key,
                        value=record.value,
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        timestamp_ms=timestamp_ms,
                        rejection=result.rejection,
                    ),
                )
            elif isinstance(result, Rekey):
                # Keep the original timestamp so the processing delay stays honest.
                await rekeyed.send(
                    key=result.key.encode(), value=record.value, timestamp=record.timestamp
                )

    name = topic.get_topic_name()
    app.agent(topic, name=f"retained_mrr.{name}")(consume)
