"""Settings for tests: names no other test uses, and the environment that reproduces them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stream.config import PREFIX, Settings
from tests.support.kafka import unique


def fresh_settings(kafka_bootstrap: str, **overrides: Any) -> Settings:
    """Settings with a unique app id (consumer group) and unique topic names."""
    return dataclasses.replace(
        Settings(),
        kafka_bootstrap=kafka_bootstrap,
        app_id=unique("app"),
        topic_deals=unique("deals"),
        topic_cancellations=unique("cancellations"),
        topic_quotas=unique("quotas"),
        topic_dead_letter=unique("dead-letter"),
        **overrides,
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The `RETAINED_MRR_*` variables under which `Settings.from_env()` gives `settings`
    back (for the CLI and worker subprocesses)."""
    values = {
        "KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "APP_ID": settings.app_id,
        "TOPIC_DEALS": settings.topic_deals,
        "TOPIC_CANCELLATIONS": settings.topic_cancellations,
        "TOPIC_QUOTAS": settings.topic_quotas,
        "TOPIC_DEAD_LETTER": settings.topic_dead_letter,
        "PARTITIONS": str(settings.partitions),
        "REPLICATION_FACTOR": str(settings.replication_factor or ""),
        "BASE_CURRENCY": settings.base_currency,
        "FX_RATES": ",".join(f"{code}={rate}" for code, rate in settings.fx_rates.items()),
        "COHORT_MONTHS": str(settings.cohort_months),
        "STORE": settings.store,
        "DATA_DIR": str(settings.data_dir),
        "MAX_REPS": str(settings.max_reps),
        "MAX_LEAD_SOURCES": str(settings.max_lead_sources),
        "KAFKA_CONNECT_TIMEOUT": str(settings.kafka_connect_timeout),
        "SECURITY_PROTOCOL": settings.security_protocol,
        "SASL_MECHANISM": settings.sasl_mechanism,
        "SASL_USERNAME": settings.sasl_username,
        "SASL_PASSWORD": settings.sasl_password,
        "SSL_CAFILE": settings.ssl_cafile,
    }
    return {PREFIX + name: value for name, value in values.items()}


def export(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `settings` what the in-process CLI reads from the environment."""
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
