"""Smoke tests: the three Kafka clients the project uses work against the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaProducer

from tests.support.kafka import create_topics, read_all, unique
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_kafka_python_produce_consume(kafka_bootstrap: str) -> None:
    topic = unique("smoke-kp")
    create_topics(kafka_bootstrap, [topic], partitions=2)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(20)}
    for key, value in sent.items():
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()

    records = read_all(kafka_bootstrap, topic, expected=20)
    assert {r.key: r.value for r in records} == sent  # type: ignore[attr-defined]


def test_aiokafka_produce_consume(kafka_bootstrap: str) -> None:
    topic = unique("smoke-aio")
    create_topics(kafka_bootstrap, [topic])

    async def roundtrip() -> list[tuple[bytes, bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(topic, key=b"k%d" % i, value=b"v%d" % i)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        got: list[tuple[bytes, bytes]] = []
        try:
            async with asyncio.timeout(30):
                async for record in consumer:
                    got.append((record.key, record.value))
                    if len(got) == 10:
                        break
        finally:
            await consumer.stop()
        return got

    got = asyncio.run(roundtrip())
    assert got == [(b"k%d" % i, b"v%d" % i) for i in range(10)]


def test_faust_worker_counts_into_a_changelogged_table(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic, app_id, port = unique("smoke-faust"), unique("smoke-app"), free_port()
    create_topics(kafka_bootstrap, [topic])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    expected = {"apple": 3, "pear": 5}
    for key, n in expected.items():
        for _ in range(n):
            producer.send(topic, key=key.encode(), value=json.dumps("x").encode())
    producer.flush()
    producer.close()

    env = os.environ | {
        "COUNTER_BOOTSTRAP": kafka_bootstrap,
        "COUNTER_APP_ID": app_id,
        "COUNTER_TOPIC": topic,
        "COUNTER_PORT": str(port),
        "COUNTER_DATADIR": str(tmp_path / "data"),
    }
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.support.counter_app", "worker", "-l", "info"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        counts = poll_counts(f"http://127.0.0.1:{port}/counts", expected, worker, tmp_path)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert counts == expected

    changelog = read_all(kafka_bootstrap, f"{app_id}-counts-changelog", expected=8)
    latest = {json.loads(r.key): json.loads(r.value) for r in changelog}  # type: ignore[attr-defined]
    assert latest == expected


def poll_counts(
    url: str, expected: dict[str, int], worker: subprocess.Popen[bytes], tmp_path: Path
) -> dict[str, int]:
    deadline = time.monotonic() + 90
    counts: dict[str, int] = {}
    while time.monotonic() < deadline and counts != expected:
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                counts = json.load(response)
        except OSError:
            pass
        time.sleep(0.5)
    return counts
