"""SPEC section 7 end to end: `retained-mrr publish` a file, run the worker, read /metrics;
over plaintext, and with the SASL and TLS settings managed clusters ask for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stream.simulate import juan_and_miguel_events
from stream.topics import create_topics
from tests.support.kafka import SASL_PASSWORD, SASL_USER, PrivateBroker
from tests.support.settings import fresh_settings, settings_env
from tests.support.worker import ROOT, WorkerProcess, counter, series

EXAMPLE = ROOT / "examples" / "juan-and-miguel.jsonl"


def test_the_example_file_is_the_spec_example() -> None:
    lines = [json.loads(line) for line in EXAMPLE.read_text().splitlines()]
    assert lines == juan_and_miguel_events(datetime(2026, 7, 1, tzinfo=UTC))


@pytest.fixture(params=["plaintext", "sasl-scram", "sasl-ssl-plain"])
def connection(request: pytest.FixtureRequest, kafka_bootstrap: str) -> dict[str, Any]:
    """Settings that reach a broker: none, SCRAM (as on Amazon MSK) and PLAIN over TLS
    (as on Confluent Cloud)."""
    if request.param == "plaintext":
        return {"kafka_bootstrap": kafka_bootstrap}
    broker: PrivateBroker = request.getfixturevalue("sasl_broker")
    credentials = {"sasl_username": SASL_USER, "sasl_password": SASL_PASSWORD}
    if request.param == "sasl-scram":
        return {
            "kafka_bootstrap": broker.sasl_bootstrap,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            **credentials,
        }
    return {
        "kafka_bootstrap": broker.sasl_ssl_bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "ssl_cafile": str(broker.ca_file),
        **credentials,
    }


def test_published_example_gives_the_spec_figures(
    connection: dict[str, Any], tmp_path: Path
) -> None:
    # Enough cohort months that 2026-01 stays exported whenever this runs.
    settings = fresh_settings(partitions=2, cohort_months=600, **connection)
    create_topics(settings)
    env = settings_env(settings) | {
        "RETAINED_MRR_STORE": "memory://",
        "RETAINED_MRR_DATA_DIR": str(tmp_path / "data"),
    }
    published = subprocess.run(
        [sys.executable, "-m", "stream.cli", "publish", str(EXAMPLE)],
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert published.returncode == 0, published.stderr
    assert f"sent 34 to {settings.topic_deals}" in published.stdout

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        samples = worker.wait_until(
            lambda m: counter(m, "sales_events_applied_total") == 47, 60, "47 applied events"
        )
    finally:
        worker.stop()

    def value(name: str, rep: str, **labels: str) -> float:
        source = {"juan": "outbound", "miguel": "referral"}[rep]
        key = series(name, rep_id=rep, lead_source=source, cohort="2026-01", **labels)
        return samples[key]

    # The table of SPEC section 7, as of any date after 2026-07-01 (stated: the test's now).
    assert value("sales_new_mrr", "juan") == 100_000
    assert value("sales_retained_mrr", "juan") == 50_000
    assert value("sales_churned_mrr", "juan", tenure="31-90d") == 50_000
    assert value("sales_survival_base_mrr", "juan", horizon="90d") == 100_000
    assert value("sales_survival_retained_mrr", "juan", horizon="90d") == 50_000
    assert value("sales_new_mrr", "miguel") == 70_000
    assert value("sales_retained_mrr", "miguel") == 65_000
    assert value("sales_churned_mrr", "miguel", tenure="91-180d") == 5_000
    assert value("sales_survival_base_mrr", "miguel", horizon="90d") == 70_000
    assert value("sales_survival_retained_mrr", "miguel", horizon="90d") == 70_000
    for rep in ("juan", "miguel"):
        assert samples[series("sales_quota_mrr", rep_id=rep, cohort="2026-01")] == 90_000
    assert samples[series("sales_rep_info", rep_id="juan", rep_name="Juan")] == 1
