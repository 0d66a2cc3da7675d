"""Settings from `RETAINED_MRR_*` environment variables (SPEC section 6).

`Settings.from_env()` reads a mapping, so tests pass their own; the only file it looks
at is the CA file, so that a wrong path is named at start-up, not after a timeout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

PREFIX = "RETAINED_MRR_"
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class ConfigError(ValueError):
    """A setting is malformed; the message names the variable and the fix."""


def parse_fx_rates(text: str) -> dict[str, Decimal]:
    """Parse `EUR=1.08,GBP=1.27` (base units per one unit of the currency)."""
    rates: dict[str, Decimal] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        code, sep, value = item.partition("=")
        code = code.strip().upper()
        if not sep or len(code) != 3 or not code.isalpha():
            raise ConfigError(f"{PREFIX}FX_RATES: {item!r} is not CODE=RATE, e.g. EUR=1.08")
        try:
            rate = Decimal(value.strip())
        except InvalidOperation:
            raise ConfigError(
                f"{PREFIX}FX_RATES: rate of {code} {value!r} is not a number"
            ) from None
        if not rate.is_finite() or rate <= 0:
            raise ConfigError(f"{PREFIX}FX_RATES: rate of {code} must be > 0, got {value!r}")
        rates[code] = rate
    return rates


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = "localhost:9092"
    app_id: str = "retained-mrr"
    topic_deals: str = "deals.won"
    topic_cancellations: str = "subscriptions.cancelled"
    topic_quotas: str = "sales.quotas"
    topic_dead_letter: str = "retained-mrr.dead-letter"
    partitions: int = 8
    # Of the topics the worker creates itself (changelogs, re-keying); None: that of the
    # deals topic, which `topics create` gives the broker's default.
    replication_factor: int | None = None
    base_currency: str = "USD"
    fx_rates: Mapping[str, Decimal] = field(default_factory=dict)
    cohort_months: int = 12
    web_port: int = 6066
    web_host: str = "0.0.0.0"
    store: str = "rocksdb://"
    data_dir: Path = Path("data")
    max_reps: int = 1000
    max_lead_sources: int = 100
    max_message_bytes: int = 65536
    log_level: str = "info"
    # How long a command waits for the cluster to answer before it names the failure.
    kafka_connect_timeout: int = 30
    # Kafka security, passed to every client.
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def text(name: str, default: str) -> str:
            return env.get(PREFIX + name, "").strip() or default

        def integer(name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
            raw = text(name, str(default))
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{PREFIX}{name}: {raw!r} is not a whole number") from None
            if value < minimum:
                raise ConfigError(f"{PREFIX}{name}: must be >= {minimum}, got {value}")
            if maximum is not None and value > maximum:
                raise ConfigError(f"{PREFIX}{name}: must be <= {maximum}, got {value}")
            return value

        base = text("BASE_CURRENCY", defaults.base_currency).upper()
        if len(base) != 3 or not base.isalpha():
            raise ConfigError(f"{PREFIX}BASE_CURRENCY: {base!r} is not an ISO 4217 code")
        fx_rates = parse_fx_rates(text("FX_RATES", ""))
        if fx_rates.get(base, 1) != 1:
            raise ConfigError(
                f"{PREFIX}FX_RATES: the base currency {base} must have rate 1 or none,"
                f" got {fx_rates[base]}"
            )
        log_level = text("LOG_LEVEL", defaults.log_level).lower()
        if log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError(
                f"{PREFIX}LOG_LEVEL: {log_level!r} must be debug, info, warning or error"
            )
        security_protocol = text("SECURITY_PROTOCOL", defaults.security_protocol).upper()
        if security_protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(
                f"{PREFIX}SECURITY_PROTOCOL: {security_protocol!r} must be one of"
                f" {', '.join(SECURITY_PROTOCOLS)}"
            )
        sasl_mechanism = text("SASL_MECHANISM", "").upper()
        if security_protocol.startswith("SASL_"):
            # Guessing PLAIN would send the password in a form SCRAM clusters refuse.
            if sasl_mechanism not in SASL_MECHANISMS:
                raise ConfigError(
                    f"{PREFIX}SASL_MECHANISM: {sasl_mechanism!r} must be one of"
                    f" {', '.join(SASL_MECHANISMS)} when {PREFIX}SECURITY_PROTOCOL is"
                    f" {security_protocol}"
                )
            for name in ("SASL_USERNAME", "SASL_PASSWORD"):
                if not text(name, ""):
                    raise ConfigError(
                        f"{PREFIX}{name}: required when {PREFIX}SECURITY_PROTOCOL is"
                        f" {security_protocol}"
                    )
        ssl_cafile = text("SSL_CAFILE", "")
        readable = os.path.isfile(ssl_cafile) and os.access(ssl_cafile, os.R_OK)
        if ssl_cafile and security_protocol.endswith("SSL") and not readable:
            raise ConfigError(f"{PREFIX}SSL_CAFILE: {ssl_cafile} is not a file this user can read")
        store = text("STORE", defaults.store)
        if store not in ("rocksdb://", "memory://"):
            raise ConfigError(f"{PREFIX}STORE: {store!r} must be rocksdb:// or memory://")
        return cls(
            kafka_bootstrap=text("KAFKA_BOOTSTRAP", defaults.kafka_bootstrap),
            app_id=text("APP_ID", defaults.app_id),
            topic_deals=text("TOPIC_DEALS", defaults.topic_deals),
            topic_cancellations=text("TOPIC_CANCELLATIONS", defaults.topic_cancellations),
            topic_quotas=text("TOPIC_QUOTAS", defaults.topic_quotas),
            topic_dead_letter=text("TOPIC_DEAD_LETTER", defaults.topic_dead_letter),
            partitions=integer("PARTITIONS", defaults.partitions),
            replication_factor=(
                integer("REPLICATION_FACTOR", 1) if text("REPLICATION_FACTOR", "") else None
            ),
            base_currency=base,
            fx_rates=fx_rates,
            cohort_months=integer("COHORT_MONTHS", defaults.cohort_months),
            web_port=integer("WEB_PORT", defaults.web_port, maximum=65535),
            web_host=text("WEB_HOST", defaults.web_host),
            store=store,
            data_dir=Path(text("DATA_DIR", str(defaults.data_dir))),
            max_reps=integer("MAX_REPS", defaults.max_reps),
            max_lead_sources=integer("MAX_LEAD_SOURCES", defaults.max_lead_sources),
            max_message_bytes=integer("MAX_MESSAGE_BYTES", defaults.max_message_bytes),
            log_level=log_level,
            kafka_connect_timeout=integer("KAFKA_CONNECT_TIMEOUT", defaults.kafka_connect_timeout),
            security_protocol=security_protocol,
            sasl_mechanism=sasl_mechanism,
            sasl_username=text("SASL_USERNAME", ""),
            sasl_password=text("SASL_PASSWORD", ""),
            ssl_cafile=ssl_cafile,
        )

    def kafka_client_options(self) -> dict[str, str | int]:
        """Options every kafka-python client gets: security and the bootstrap timeout."""
        options: dict[str, str | int] = {
            "security_protocol": self.security_protocol,
            "bootstrap_timeout_ms": self.kafka_connect_timeout * 1000,
        }
        if self.security_protocol.startswith("SASL_"):
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        if self.ssl_cafile and self.security_protocol.endswith("SSL"):
            options["ssl_cafile"] = self.ssl_cafile
        return options
