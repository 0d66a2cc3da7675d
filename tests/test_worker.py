"""The worker against the real broker: exact figures, health counters, dead letters,
two workers and a rebalance, and SIGKILL crashes. Figures are compared with the naive
reference model (tests/core/reference.py) fed the same stream."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer

from stream.config import Settings, parse_fx_rates
from stream.topics import create_topics
from tests.core.reference import Reference
from tests.support.expected import business, expected_series, reference_of
from tests.support.kafka import create_topics as create_topics_named
from tests.support.kafka import read_all, unique
from tests.support.settings import fresh_settings, settings_env
from tests.support.streams import FX_SETTING, Record, StreamBuilder
from tests.support.worker import Series, WorkerProcess, counter

SUBSCRIPTIONS = 1500
PARTITIONS = 4


@dataclass(frozen=True)
class Published:
    settings: Settings
    records: Sequence[Record]
    reference: Reference

    def topic(self, record: Record) -> str:
        return {
            "deal_won": self.settings.topic_deals,
            "subscription_cancelled": self.settings.topic_cancellations,
            "quota_set": self.settings.topic_quotas,
        }[record.kind]

    def per_topic(self) -> Counter[str]:
        return Counter(self.topic(r) for r in self.records)

    def env(self, **extra: str) -> dict[str, str]:
        return settings_env(self.settings) | extra


def publish(published: Published, records: Sequence[Record]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=published.settings.kafka_bootstrap, acks="all", linger_ms=5
    )
    for record in records:
        producer.send(published.topic(record), key=record.key, value=record.value)
    producer.flush()
    producer.close()


def build_stream(bootstrap: str, seed: int) -> Published:
    settings = fresh_settings(
        bootstrap, partitions=PARTITIONS, fx_rates=parse_fx_rates(FX_SETTING), store="memory://"
    )
    create_topics(settings)
    records = StreamBuilder(seed, datetime.now(UTC)).build(SUBSCRIPTIONS)
    return Published(settings, records, reference_of(records, settings))


@pytest.fixture(scope="module")
def stream(kafka_bootstrap: str) -> Published:
    published = build_stream(kafka_bootstrap, seed=20261204)
    publish(published, published.records)
    return published


def quiescent(published: Published, *workers: WorkerProcess) -> bool:
    """Every published message consumed and accounted for, across `workers`."""
    samples = [w.metrics() for w in workers]
    for topic, count in published.per_topic().items():
        consumed = sum(counter(s, "sales_events_consumed_total", topic=topic) for s in samples)
        done = sum(
            counter(s, name, topic=topic)
            for s in samples
            for name in (
                "sales_events_applied_total",
                "sales_events_duplicate_total",
                "sales_events_rejected_total",
            )
        )
        if consumed < count or done < count:
            return False
    return True


def fleet_business(*workers: WorkerProcess) -> dict[Series, float]:
    total: dict[Series, float] = {}
    for worker in workers:
        for key, value in business(worker.metrics()).items():
            name = key[0]
            if name in ("sales_cohort_age_months", "sales_rep_info"):
                total[key] = max(total.get(key, value), value)
            else:
                total[key] = total.get(key, 0.0) + value
    # A worker owning no deal of a rep exports no series for it: zeros are optional.
    return {k: v for k, v in total.items() if v != 0 or not k[0].startswith("sales_cancel")}


def matches_reference(published: Published, *workers: WorkerProcess) -> tuple[bool, str]:
    """Compare the fleet's series with the reference at the scrape time; a time-driven
    transition inside the scrape window makes the comparison void, so it is retried."""
    before = datetime.now(UTC)
    actual = fleet_business(*workers)
    after = datetime.now(UTC)
    months = published.settings.cohort_months
    expected = expected_series(published.reference, before, months)
    if expected != expected_series(published.reference, after, months):
        return False, "a transition fell inside the scrape window"
    actual.setdefault(("sales_cancellations_pending", frozenset()), 0.0)
    if actual == expected:
        return True, ""
    missing = sorted(set(expected) - set(actual))[:5]
    extra = sorted(set(actual) - set(expected))[:5]
    wrong = sorted(
        (k, actual[k], expected[k]) for k in set(actual) & set(expected) if actual[k] != expected[k]
    )[:5]
    counts = (
        f"{len(set(expected) - set(actual))} missing, {len(set(actual) - set(expected))} extra,"
        f" {sum(actual[k] != expected[k] for k in set(actual) & set(expected))} wrong"
        f" of {len(expected)} series"
    )
    return False, f"{counts}\nmissing {missing}\nextra {extra}\nwrong {wrong}"


def wait_for_reference(
    published: Published, *workers: WorkerProcess, timeout: float, counted: bool = True
) -> float:
    """Seconds until the fleet matches the reference; with `counted`, also until the
    health counters account for every published message (they restart with a process)."""
    began = time.monotonic()
    why = "not every message was accounted for"
    while time.monotonic() < began + timeout:
        if not counted or quiescent(published, *workers):
            ok, why = matches_reference(published, *workers)
            if ok:
                return time.monotonic() - began
        time.sleep(1)
    logs = "\n".join(w.log_tail(2000) for w in workers)
    raise AssertionError(f"fleet never matched the reference: {why}\n{logs}")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop(signal.SIGKILL)


def start(
    published: Published, tmp_path: Path, started: list[WorkerProcess], **env: str
) -> WorkerProcess:
    own = {"RETAINED_MRR_DATA_DIR": str(tmp_path / f"data-{len(started)}")}
    worker = WorkerProcess(published.env(**own | env), tmp_path / f"worker-{len(started)}.log")
    started.append(worker)
    return worker.start()


def test_worker_exports_exactly_the_reference(
    stream: Published, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    began = time.monotonic()
    worker = start(stream, tmp_path, workers)
    wait_for_reference(stream, worker, timeout=120)
    elapsed = time.monotonic() - began
    samples = worker.metrics()

    invalid = [r for r in stream.records if not r.valid]
    rekeyed = [
        r
        for r in stream.records
        if r.valid
        and r.kind != "quota_set"
        and r.key != json.loads(r.value)["subscription_id"].encode()
    ]
    for topic, count in stream.per_topic().items():
        consumed = counter(samples, "sales_events_consumed_total", topic=topic)
        applied = counter(samples, "sales_events_applied_total", topic=topic)
        duplicate = counter(samples, "sales_events_duplicate_total", topic=topic)
        rejected = counter(samples, "sales_events_rejected_total", topic=topic)
        assert consumed == count
        assert consumed == applied + duplicate + rejected
    assert counter(samples, "sales_events_rejected_total") == len(invalid)
    assert counter(samples, "sales_events_rekeyed_total") == len(rekeyed) > 0
    assert counter(samples, "sales_events_duplicate_total") > 0
    assert counter(samples, "sales_events_clamped_total") > 0

    letters = read_all(
        stream.settings.kafka_bootstrap, stream.settings.topic_dead_letter, expected=len(invalid)
    )
    letters_json = [json.loads(r.value) for r in letters]  # type: ignore[attr-defined]
    bodies = sorted(letter["value"]["data"] for letter in letters_json)
    assert bodies == sorted(r.value.decode() for r in invalid)
    assert {letter["source"]["topic"] for letter in letters_json} == {stream.settings.topic_deals}
    assert all(
        letter["reason"] in ("invalid_json", "schema", "wrong_topic") for letter in letters_json
    )
    print(
        f"\n{len(stream.records)} messages applied and matching the reference in {elapsed:.1f}s"
        f" (incl. worker start); {len(business(samples))} business series"
    )


def test_two_workers_sum_to_the_reference_and_the_survivor_takes_over(
    stream: Published, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    group = {"RETAINED_MRR_APP_ID": unique("pair"), "RETAINED_MRR_TOPIC_DEAD_LETTER": unique("dl")}
    create_topics_named(stream.settings.kafka_bootstrap, [group["RETAINED_MRR_TOPIC_DEAD_LETTER"]])
    first = start(stream, tmp_path, workers, **group)
    second = start(stream, tmp_path, workers, **group)
    wait_for_reference(stream, first, second, timeout=150)
    assert business(first.metrics()) and business(second.metrics()), "both workers own partitions"

    second.stop(signal.SIGTERM)
    took = wait_for_reference(stream, first, timeout=150, counted=False)
    print(f"\nsurvivor matched the reference {took:.1f}s after the stop")


def test_sigkill_at_random_moments_changes_nothing(
    kafka_bootstrap: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    published = build_stream(kafka_bootstrap, seed=7)
    rng = random.Random(7)
    # Contiguous slices keep the publishing order the reference replays.
    size = -(-len(published.records) // 4)
    chunks = [published.records[i : i + size] for i in range(0, len(published.records), size)]
    env = {
        "RETAINED_MRR_STORE": "rocksdb://",
        "RETAINED_MRR_DATA_DIR": str(tmp_path / "data"),
        # Faust's own setting: a killed member leaves the group after 10 s, not 60 s.
        "BROKER_SESSION_TIMEOUT": "10",
    }
    for chunk in chunks[:3]:
        worker = start(published, tmp_path, workers, **env)
        publish(published, chunk)
        # Kill while the chunk is being consumed, at a random point of it (often before
        # the group's first offset commit: the hardest case for the restart).
        target = rng.randint(1, len(chunk) // 2)
        worker.wait_until(
            lambda m, target=target: counter(m, "sales_events_consumed_total") >= target,
            timeout=120,
            what=f"{target} messages consumed",
        )
        worker.stop(signal.SIGKILL)
    survivor = start(published, tmp_path, workers, **env)
    publish(published, chunks[3])
    # Nothing lost and nothing counted twice: exactly the reference.
    took = wait_for_reference(published, survivor, timeout=240, counted=False)
    print(f"\nafter 3 SIGKILLs the restarted worker matched the reference in {took:.1f}s")
