"""Connection failures named with the settings to fix: the cause kafka-python only logs,
kept by `kafka_failures`, and the hint for each kind of failure."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from kafka.errors import (
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaTimeoutError,
    RequestTimedOutError,
    SaslAuthenticationFailedError,
)

from stream import kafka_failures
from stream.kafka_failures import explain, hint

BOOTSTRAP_TIMEOUT = KafkaTimeoutError("Unable to bootstrap from kafka-1:9092")


@pytest.fixture(autouse=True)
def _no_cause_yet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(kafka_failures._last, "cause", None)
    kafka_failures.watch()
    yield


def log_failure(cause: BaseException) -> None:
    """As kafka-python does: the exception is a %-argument of a warning."""
    logging.getLogger("kafka.net.manager").warning(
        "Bootstrap connection to %s failed: %s (backoff %.2f secs)", "bootstrap-0", cause, 0.05
    )


@pytest.mark.parametrize(
    ("cause", "settings"),
    [
        (
            SaslAuthenticationFailedError("Invalid username or password"),
            ["SASL_USERNAME", "SASL_PASSWORD", "SASL_MECHANISM"],
        ),
        (IllegalSaslStateError(), ["SECURITY_PROTOCOL", "SASL_MECHANISM"]),
        (
            KafkaConnectionError("Handshake failed: [SSL: UNEXPECTED_EOF_WHILE_READING]"),
            ["SECURITY_PROTOCOL", "SSL_CAFILE"],
        ),
        (KafkaConnectionError("111 ECONNREFUSED"), ["KAFKA_BOOTSTRAP"]),
        (KafkaConnectionError("DNS Resolution failure"), ["KAFKA_BOOTSTRAP"]),
        (
            KafkaConnectionError("socket disconnected"),
            ["SECURITY_PROTOCOL", "SASL_MECHANISM", "SASL_USERNAME", "SASL_PASSWORD"],
        ),
        (
            RequestTimedOutError("Request timed out after 59 ms"),
            ["KAFKA_BOOTSTRAP", "SECURITY_PROTOCOL"],
        ),
    ],
)
def test_each_failure_names_the_settings_to_check(
    cause: BaseException, settings: list[str]
) -> None:
    named = set(re.findall(r"RETAINED_MRR_[A-Z_]+", hint(cause)))
    assert named == {f"RETAINED_MRR_{name}" for name in settings}


def test_a_bootstrap_timeout_is_explained_by_the_logged_cause() -> None:
    log_failure(KafkaConnectionError("111 ECONNREFUSED"))
    assert explain(BOOTSTRAP_TIMEOUT) == (
        "KafkaTimeoutError: Unable to bootstrap from kafka-1:9092; the last failure was"
        " KafkaConnectionError: 111 ECONNREFUSED: nothing answers there; check"
        " RETAINED_MRR_KAFKA_BOOTSTRAP and that the brokers run"
    )


def test_a_specific_cause_outlives_the_hang_ups_and_timeouts_after_it() -> None:
    log_failure(SaslAuthenticationFailedError("Invalid username or password"))
    log_failure(KafkaConnectionError("socket disconnected"))
    log_failure(RequestTimedOutError("Request timed out after 59 ms"))
    assert "SaslAuthenticationFailedError" in explain(BOOTSTRAP_TIMEOUT)


def test_a_hang_up_outlives_the_timeout_after_it() -> None:
    log_failure(KafkaConnectionError("socket disconnected"))
    log_failure(RequestTimedOutError("Request timed out after 150 ms"))
    assert "the broker hung up" in explain(BOOTSTRAP_TIMEOUT)


def test_a_later_specific_cause_replaces_an_earlier_one() -> None:
    log_failure(KafkaConnectionError("socket disconnected"))
    log_failure(KafkaConnectionError("111 ECONNREFUSED"))
    assert "ECONNREFUSED" in explain(BOOTSTRAP_TIMEOUT)


def test_the_bootstrap_timeout_itself_is_not_a_cause() -> None:
    logging.getLogger("kafka.net.manager").error("Bootstrap failed: %s", BOOTSTRAP_TIMEOUT)
    assert explain(BOOTSTRAP_TIMEOUT) == str(BOOTSTRAP_TIMEOUT)


def test_other_errors_are_left_as_they_are() -> None:
    log_failure(KafkaConnectionError("111 ECONNREFUSED"))
    error = RequestTimedOutError("produce request timed out")
    assert explain(error) == str(error)
