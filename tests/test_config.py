"""Settings from RETAINED_MRR_* variables: defaults, parsing, and errors naming the variable."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from stream.config import ConfigError, Settings, parse_fx_rates
from tests.support.settings import settings_env


def test_defaults_are_the_specs() -> None:
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap == "localhost:9092"
    assert settings.app_id == "retained-mrr"
    assert (settings.topic_deals, settings.topic_cancellations) == (
        "deals.won",
        "subscriptions.cancelled",
    )
    assert (settings.topic_quotas, settings.topic_dead_letter) == (
        "sales.quotas",
        "retained-mrr.dead-letter",
    )
    assert (settings.partitions, settings.cohort_months, settings.web_port) == (8, 12, 6066)
    assert (settings.base_currency, settings.fx_rates) == ("USD", {})
    assert settings.store == "rocksdb://"


def test_values_are_read_and_normalised() -> None:
    settings = Settings.from_env(
        {
            "RETAINED_MRR_BASE_CURRENCY": "eur",
            "RETAINED_MRR_FX_RATES": " usd=0.93 , GBP=1.17 ,",
            "RETAINED_MRR_PARTITIONS": "3",
            "RETAINED_MRR_DATA_DIR": "/var/lib/retained-mrr",
            "RETAINED_MRR_STORE": "memory://",
            "RETAINED_MRR_APP_ID": "   ",  # blank means the default
        }
    )
    assert settings.base_currency == "EUR"
    assert settings.fx_rates == {"USD": Decimal("0.93"), "GBP": Decimal("1.17")}
    assert settings.partitions == 3
    assert settings.data_dir == Path("/var/lib/retained-mrr")
    assert settings.store == "memory://"
    assert settings.app_id == "retained-mrr"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RETAINED_MRR_PARTITIONS", "eight", "RETAINED_MRR_PARTITIONS: 'eight' is not a whole"),
        ("RETAINED_MRR_PARTITIONS", "0", "RETAINED_MRR_PARTITIONS: must be >= 1, got 0"),
        ("RETAINED_MRR_BASE_CURRENCY", "EURO", "RETAINED_MRR_BASE_CURRENCY: 'EURO' is not"),
        ("RETAINED_MRR_STORE", "redis://", "RETAINED_MRR_STORE: 'redis://' must be"),
        ("RETAINED_MRR_LOG_LEVEL", "loud", "RETAINED_MRR_LOG_LEVEL: 'loud' must be"),
        ("RETAINED_MRR_FX_RATES", "EUR:1.08", "RETAINED_MRR_FX_RATES: 'EUR:1.08' is not CODE=RATE"),
        ("RETAINED_MRR_FX_RATES", "EUR=abc", "RETAINED_MRR_FX_RATES: rate of EUR 'abc' is not"),
        ("RETAINED_MRR_FX_RATES", "EUR=-1", "RETAINED_MRR_FX_RATES: rate of EUR must be > 0"),
        ("RETAINED_MRR_FX_RATES", "EUR=NaN", "RETAINED_MRR_FX_RATES: rate of EUR must be > 0"),
        ("RETAINED_MRR_KAFKA_CONNECT_TIMEOUT", "0", "RETAINED_MRR_KAFKA_CONNECT_TIMEOUT: must be"),
        ("RETAINED_MRR_REPLICATION_FACTOR", "0", "RETAINED_MRR_REPLICATION_FACTOR: must be >= 1"),
        ("RETAINED_MRR_SECURITY_PROTOCOL", "TLS", "RETAINED_MRR_SECURITY_PROTOCOL: 'TLS' must"),
        ("RETAINED_MRR_WEB_PORT", "99999", "RETAINED_MRR_WEB_PORT: must be <= 65535, got 99999"),
        ("RETAINED_MRR_FX_RATES", "USD=1.1", "RETAINED_MRR_FX_RATES: the base currency USD must"),
    ],
)
def test_malformed_values_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({variable: value})
    assert str(raised.value).startswith(message)


SASL = {
    "RETAINED_MRR_SECURITY_PROTOCOL": "sasl_ssl",
    "RETAINED_MRR_SASL_MECHANISM": "scram-sha-512",
    "RETAINED_MRR_SASL_USERNAME": "svc-retained-mrr",
    "RETAINED_MRR_SASL_PASSWORD": "s3cret",
    "RETAINED_MRR_SSL_CAFILE": __file__,  # any readable file
    "RETAINED_MRR_KAFKA_CONNECT_TIMEOUT": "5",
}


def test_sasl_settings_reach_every_kafka_python_client() -> None:
    settings = Settings.from_env(SASL)
    assert (settings.security_protocol, settings.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert settings.kafka_client_options() == {
        "security_protocol": "SASL_SSL",
        "bootstrap_timeout_ms": 5000,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc-retained-mrr",
        "sasl_plain_password": "s3cret",
        "ssl_cafile": __file__,
    }


def test_a_ca_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(SASL | {"RETAINED_MRR_SSL_CAFILE": str(missing)})
    assert (
        str(raised.value) == f"RETAINED_MRR_SSL_CAFILE: {missing} is not a file this user can read"
    )


def test_plaintext_ignores_leftover_sasl_and_tls_settings() -> None:
    settings = Settings.from_env(SASL | {"RETAINED_MRR_SECURITY_PROTOCOL": "PLAINTEXT"})
    assert settings.kafka_client_options() == {
        "security_protocol": "PLAINTEXT",
        "bootstrap_timeout_ms": 5000,
    }


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RETAINED_MRR_SASL_MECHANISM", "", "RETAINED_MRR_SASL_MECHANISM: '' must be one of"),
        ("RETAINED_MRR_SASL_MECHANISM", "GSSAPI", "RETAINED_MRR_SASL_MECHANISM: 'GSSAPI' must"),
        ("RETAINED_MRR_SASL_USERNAME", "", "RETAINED_MRR_SASL_USERNAME: required when"),
        ("RETAINED_MRR_SASL_PASSWORD", " ", "RETAINED_MRR_SASL_PASSWORD: required when"),
    ],
)
def test_sasl_needs_a_mechanism_and_credentials(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(SASL | {variable: value})
    assert str(raised.value).startswith(message)


def test_the_replication_factor_is_the_inputs_unless_set() -> None:
    assert Settings.from_env({}).replication_factor is None
    assert Settings.from_env({"RETAINED_MRR_REPLICATION_FACTOR": "3"}).replication_factor == 3


def test_rates_keep_full_decimal_precision() -> None:
    assert parse_fx_rates("JPY=0.0066666666666666666667") == {
        "JPY": Decimal("0.0066666666666666666667")
    }


def test_settings_env_round_trips() -> None:
    settings = Settings.from_env(
        {
            "RETAINED_MRR_FX_RATES": "EUR=1.08",
            "RETAINED_MRR_MAX_REPS": "7",
            "RETAINED_MRR_REPLICATION_FACTOR": "3",
        }
        | SASL
    )
    assert Settings.from_env(settings_env(settings)) == settings


def test_every_setting_is_documented_in_the_readme() -> None:
    root = Path(__file__).resolve().parents[1]
    source = (root / "stream" / "config.py").read_text()
    read = set(re.findall(r'(?:text|integer)\(\s*"([A-Z_]+)"', source))
    assert {"KAFKA_BOOTSTRAP", "KAFKA_CONNECT_TIMEOUT", "SASL_PASSWORD"} <= read
    readme = (root / "README.md").read_text()
    documented = set(re.findall(r"^\| `RETAINED_MRR_([A-Z_]+)` \|", readme, re.MULTILINE))
    assert read == documented
