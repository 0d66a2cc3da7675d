"""Pipeline health metrics of SPEC section 4: counters, delay histogram, freshness.

At quiescence, per topic: consumed = applied + duplicate + rejected (+ rekeyed, which
are counted again under their topic when the re-routed copy is applied).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)


class PipelineMetrics:
    """The worker's own counters, registered on the registry `/metrics` serves."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumed = Counter(
            "sales_events_consumed",
            "Messages read from an input topic",
            ["topic"],
            registry=registry,
        )
        self.applied = Counter(
            "sales_events_applied", "Events that changed the state", ["topic"], registry=registry
        )
        self.duplicate = Counter(
            "sales_events_duplicate",
            "Events whose event_id was already applied (re-deliveries)",
            ["topic"],
            registry=registry,
        )
        self.rejected = Counter(
            "sales_events_rejected",
            "Messages sent to the dead-letter topic, by reason",
            ["topic", "reason"],
            registry=registry,
        )
        self.rekeyed = Counter(
            "sales_events_rekeyed",
            "Messages keyed by something other than their join key, re-routed by the join key",
            ["topic"],
            registry=registry,
        )
        self.clamped = Counter(
            "sales_events_clamped",
            "Cancellations effective before their deal closed, clamped to the close",
            ["reason"],
            registry=registry,
        )
        self.delay = Histogram(
            "sales_processing_delay_seconds",
            "Processing time minus the Kafka message timestamp",
            ["topic"],
            buckets=DELAY_BUCKETS,
            registry=registry,
        )
        self.last_event = Gauge(
            "sales_last_event_timestamp_seconds",
            "Wall clock when the last message of the topic was processed",
            ["topic"],
            registry=registry,
        )
