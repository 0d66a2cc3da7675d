"""Why a Kafka client could not connect, in words a user can act on.

kafka-python retries a failed bootstrap until its timeout and then raises a bare
`KafkaTimeoutError('Unable to bootstrap from ...')`: the cause (a refused
connection, rejected credentials, TLS against a plaintext listener) is only logged.
`watch()` keeps the last cause kafka-python logged so that `explain()` can name it,
with the settings most likely to need a fix.
"""

from __future__ import annotations

import logging

from kafka.errors import (
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaTimeoutError,
    RequestTimedOutError,
    SaslAuthenticationFailedError,
    UnsupportedSaslMechanismError,
)

from stream.config import PREFIX

__all__ = ["explain", "hint", "watch"]


class _LastCause(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.cause: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # kafka-python logs its failures as %-arguments, not as exc_info.
        args = record.args if isinstance(record.args, tuple) else ()
        causes = [arg for arg in args if isinstance(arg, BaseException)]
        for cause in causes:
            if isinstance(cause, KafkaTimeoutError):
                continue  # the bootstrap's own failure, which explain() is given
            # A broker that rejects credentials may hang up before its answer is read,
            # and the deadline cuts the last request short: an earlier attempt's
            # cause that says more is kept.
            if self.cause is None or _telling(cause) >= _telling(self.cause):
                self.cause = cause


def _telling(cause: BaseException) -> int:
    """How much a cause says: a timeout nothing, a hang-up a little, the rest most."""
    if isinstance(cause, RequestTimedOutError):
        return 0
    return 1 if _hung_up(cause) else 2


def _hung_up(cause: BaseException) -> bool:
    return isinstance(cause, KafkaConnectionError) and "disconnected" in str(cause)


_last = _LastCause()


def watch() -> None:
    """Start remembering the connection failures kafka-python logs (idempotent)."""
    logger = logging.getLogger("kafka")
    if _last not in logger.handlers:
        logger.addHandler(_last)


def explain(error: BaseException) -> str:
    """`error`, and for a bootstrap timeout the failure behind it and what to check."""
    cause = _last.cause
    if not isinstance(error, KafkaTimeoutError) or cause is None:
        return str(error)
    return f"{error}; the last failure was {cause}: {hint(cause)}"


def hint(cause: BaseException) -> str:
    """The settings to check for a connection failure."""
    text = str(cause)
    if isinstance(cause, SaslAuthenticationFailedError):
        return (
            f"the brokers rejected the credentials; check {PREFIX}SASL_USERNAME,"
            f" {PREFIX}SASL_PASSWORD and {PREFIX}SASL_MECHANISM"
        )
    if isinstance(cause, IllegalSaslStateError | UnsupportedSaslMechanismError):
        return (
            "the listener does not accept this SASL mechanism, or no SASL at all;"
            f" check {PREFIX}SECURITY_PROTOCOL and {PREFIX}SASL_MECHANISM"
        )
    if "SSL" in text or "Handshake" in text:
        return (
            "the TLS handshake failed; check that the listener speaks TLS"
            f" ({PREFIX}SECURITY_PROTOCOL) and that {PREFIX}SSL_CAFILE signs its certificate"
        )
    if "ECONNREFUSED" in text or "DNS" in text:
        return f"nothing answers there; check {PREFIX}KAFKA_BOOTSTRAP and that the brokers run"
    if _hung_up(cause):
        return (
            "the broker hung up, as a listener does that expects SASL or TLS, or that"
            f" rejects the credentials; check {PREFIX}SECURITY_PROTOCOL,"
            f" {PREFIX}SASL_MECHANISM, {PREFIX}SASL_USERNAME and {PREFIX}SASL_PASSWORD"
        )
    return f"check {PREFIX}KAFKA_BOOTSTRAP and the {PREFIX}SECURITY_PROTOCOL settings"
