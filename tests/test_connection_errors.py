"""What a user sees when the worker or a command cannot reach Kafka: one line that names
the cause and the settings to fix, within RETAINED_MRR_KAFKA_CONNECT_TIMEOUT, never a
traceback or a silent wait. Against real listeners: a SASL one and a closed port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.kafka import ROOT, SASL_PASSWORD, SASL_USER, PrivateBroker
from tests.support.net import free_port
from tests.support.settings import fresh_settings, settings_env

EXAMPLE = ROOT / "examples" / "juan-and-miguel.jsonl"
# Long enough for a first handshake on a loaded CI machine: a test waits it out.
CONNECT_TIMEOUT = 5


def retained_mrr(
    *args: str, bootstrap: str, tmp_path: Path, **security: str
) -> subprocess.CompletedProcess[str]:
    settings = fresh_settings(
        bootstrap, kafka_connect_timeout=CONNECT_TIMEOUT, data_dir=tmp_path / "data", **security
    )
    return subprocess.run(
        [sys.executable, "-m", "stream.cli", *args],
        env=os.environ | settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def only_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_worker_with_a_wrong_password_names_the_credentials(
    sasl_broker: PrivateBroker, tmp_path: Path
) -> None:
    worker = retained_mrr(
        "worker",
        bootstrap=sasl_broker.sasl_bootstrap,
        tmp_path=tmp_path,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username=SASL_USER,
        sasl_password="not-the-password",
    )
    assert worker.returncode == 2
    line = only_line(worker.stderr)
    assert line.startswith(
        f"retained-mrr worker: KafkaTimeoutError: Unable to bootstrap from"
        f" {sasl_broker.sasl_bootstrap}; the last failure was"
    )
    assert "RETAINED_MRR_SASL_PASSWORD" in line


def test_topics_without_sasl_on_a_sasl_listener_names_the_protocol(
    sasl_broker: PrivateBroker, tmp_path: Path
) -> None:
    created = retained_mrr(
        "topics", "create", bootstrap=sasl_broker.sasl_bootstrap, tmp_path=tmp_path
    )
    assert created.returncode == 1
    line = only_line(created.stderr)
    assert "the broker hung up" in line
    assert "check RETAINED_MRR_SECURITY_PROTOCOL" in line


def test_publish_to_a_closed_port_names_the_bootstrap(tmp_path: Path) -> None:
    bootstrap = f"localhost:{free_port()}"
    published = retained_mrr("publish", str(EXAMPLE), bootstrap=bootstrap, tmp_path=tmp_path)
    assert published.returncode == 1
    assert published.stdout == "47 valid, 0 invalid\n"
    assert only_line(published.stderr) == (
        f"error: sending to Kafka at {bootstrap} failed: KafkaTimeoutError: Unable to"
        f" bootstrap from {bootstrap}; the last failure was KafkaConnectionError: 111"
        " ECONNREFUSED: nothing answers there; check RETAINED_MRR_KAFKA_BOOTSTRAP and that"
        " the brokers run"
    )


def test_tls_without_the_ca_file_names_it(sasl_broker: PrivateBroker, tmp_path: Path) -> None:
    created = retained_mrr(
        "topics",
        "create",
        bootstrap=sasl_broker.sasl_ssl_bootstrap,
        tmp_path=tmp_path,
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username=SASL_USER,
        sasl_password=SASL_PASSWORD,
    )
    assert created.returncode == 1
    line = only_line(created.stderr)
    assert "certificate verify failed: self-signed certificate" in line
    assert "RETAINED_MRR_SSL_CAFILE signs its certificate" in line
