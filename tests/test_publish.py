"""`retained-mrr publish`, `quotas set` and `send_events`, against the real broker."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from schemas.encoding import loads
from schemas.events import DealWon, QuotaSet, SubscriptionCancelled
from stream.cli import main
from stream.config import Settings
from stream.publish import read_events, send_events
from stream.topics import create_topics
from stream.validation import Reason, TopicKind, Validator
from tests.support.kafka import read_all
from tests.support.settings import export, fresh_settings

DATA = Path(__file__).parent / "data" / "contract"


@pytest.fixture
def settings(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Fresh topics (2 partitions each), also exported as the CLI's environment."""
    fresh = fresh_settings(kafka_bootstrap, partitions=2, fx_rates={"EUR": Decimal("1.08")})
    create_topics(fresh)
    export(fresh, monkeypatch)
    yield fresh


def record_count(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def read_back(settings: Settings, topic: str, expected: int) -> list[tuple[str, dict[str, Any]]]:
    """(key, value) of every record, in event_id order (partitions interleave)."""
    records: list[Any] = read_all(settings.kafka_bootstrap, topic, expected)
    pairs = [(record.key.decode(), loads(record.value)) for record in records]
    return sorted(pairs, key=lambda pair: str(pair[1]["event_id"]))


def test_publish_sends_every_event_to_its_topic_keyed_by_the_spec(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", str(DATA / "events.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "4 valid, 0 invalid" in out
    assert f"sent 2 to {settings.topic_deals}" in out
    assert f"sent 1 to {settings.topic_cancellations}" in out
    assert f"sent 1 to {settings.topic_quotas}" in out

    lines = [loads(line) for line in (DATA / "events.jsonl").read_bytes().splitlines()]
    deals = read_back(settings, settings.topic_deals, 2)
    assert [key for key, _ in deals] == ["sub-1", "sub-2"]
    assert [DealWon.model_validate(value) for _, value in deals] == [
        DealWon.model_validate(lines[0]),
        DealWon.model_validate(lines[1]),
    ]
    assert deals[0][1]["mrr"] == Decimal("5000.10")
    assert deals[0][1]["lead_source"] == "outbound"
    assert deals[1][1]["deal_id"] == "sub-2"
    assert "crm_stage" not in deals[1][1]

    [(key, cancellation)] = read_back(settings, settings.topic_cancellations, 1)
    assert key == "sub-1"
    assert SubscriptionCancelled.model_validate(cancellation) == (
        SubscriptionCancelled.model_validate(lines[2])
    )
    [(key, quota)] = read_back(settings, settings.topic_quotas, 1)
    assert (key, QuotaSet.model_validate(quota)) == ("juan", QuotaSet.model_validate(lines[3]))
    assert record_count(settings.kafka_bootstrap, settings.topic_dead_letter) == 0


MIXED_PROBLEMS = [
    (2, "invalid_json", "value: not JSON"),
    (4, "schema", "closed_at: must be an RFC 3339 timestamp with an offset"),
    (6, "unsupported_currency", "currency: JPY is not the base currency USD"),
    (
        7,
        "schema",
        "type: must be one of deal_won, subscription_cancelled, quota_set; it is missing",
    ),
    (8, "schema", "mrr: give either mrr or amount with billing_period, not both"),
]


def assert_reports_mixed(err: str) -> None:
    path = DATA / "mixed.jsonl"
    lines = err.splitlines()
    assert len(lines) == len(MIXED_PROBLEMS), err
    for line, (number, reason, detail) in zip(lines, MIXED_PROBLEMS, strict=True):
        assert line.startswith(f"{path}:{number}: {reason}: {detail}"), line


def test_dry_run_reports_each_bad_line_by_number_and_sends_nothing(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", "--dry-run", str(DATA / "mixed.jsonl")]) == 1
    captured = capsys.readouterr()
    assert_reports_mixed(captured.err)
    assert captured.out == "2 valid, 5 invalid; nothing sent\n"
    assert record_count(settings.kafka_bootstrap, settings.topic_deals) == 0


def test_invalid_lines_block_the_whole_file_unless_partial_is_allowed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", str(DATA / "mixed.jsonl")]) == 1
    assert_reports_mixed(capsys.readouterr().err)
    assert record_count(settings.kafka_bootstrap, settings.topic_deals) == 0
    assert record_count(settings.kafka_bootstrap, settings.topic_quotas) == 0

    assert main(["publish", "--allow-partial", str(DATA / "mixed.jsonl")]) == 1
    captured = capsys.readouterr()
    assert_reports_mixed(captured.err)
    assert f"sent 1 to {settings.topic_deals}" in captured.out
    [(key, deal)] = read_back(settings, settings.topic_deals, 1)
    assert (key, deal["event_id"]) == ("sub-1", "d-1")
    [(key, quota)] = read_back(settings, settings.topic_quotas, 1)
    assert (key, quota["currency"], quota["amount"]) == ("juan", "EUR", Decimal(90000))


def test_publish_csv_with_the_type_inferred_from_the_columns(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", str(DATA / "deals.csv")]) == 0
    assert f"sent 3 to {settings.topic_deals}" in capsys.readouterr().out
    deals = read_back(settings, settings.topic_deals, 3)
    assert [key for key, _ in deals] == ["sub-10", "sub-11", "sub-12"]
    first, second, third = (DealWon.model_validate(value) for _, value in deals)
    assert (first.mrr, first.lead_source, first.rep_name, first.deal_id) == (
        Decimal("5000.00"),
        "referral",
        "Juan Pérez",
        "sub-10",
    )
    assert (second.billed, second.currency, second.deal_id, second.rep_name) == (
        (Decimal(60000), "year"),
        "EUR",
        "deal-11",
        None,
    )
    assert second.closed_at == datetime(2026, 1, 12, 8, tzinfo=UTC)
    assert (third.rep_name, third.mrr) == ("Ana, the new one", Decimal("199.99"))


def test_csv_problems_are_reported_by_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "quotas.csv"
    assert main(["publish", "--dry-run", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].startswith(f"{path}:3: schema: month: String should match pattern")
    assert err[1].startswith(f"{path}:4: schema: amount: a money string must be a plain decimal")


def test_csv_with_unknown_columns_needs_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,subscription_id\ne-1,sub-1\n")
    assert main(["publish", "--dry-run", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"{path}:1: schema: header: cannot tell the event type from the columns; pass --type\n"
    )
    assert main(["publish", "--dry-run", "--type", "subscription_cancelled", str(path)]) == 1
    assert capsys.readouterr().err == f"{path}:2: schema: cancelled_at: Field required\n"


def test_publish_reads_stdin(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = (
        b'{"event_id": "c-9", "subscription_id": "sub-9",'
        b' "cancelled_at": "2026-01-20T00:00:00+00:00"}\n'
    )
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(line)))
    assert main(["publish", "--type", "subscription_cancelled", "-"]) == 0
    assert f"sent 1 to {settings.topic_cancellations}" in capsys.readouterr().out
    [(key, value)] = read_back(settings, settings.topic_cancellations, 1)
    assert (key, value["effective_at"]) == ("sub-9", "2026-01-20T00:00:00Z")


def test_quotas_set(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["quotas", "set", "--rep", "juan", "--month", "2026-01", "--amount", "90000.50"]
    assert main([*argv, "--currency", "EUR"]) == 0
    assert f"sent 1 to {settings.topic_quotas}" in capsys.readouterr().out
    [(key, value)] = read_back(settings, settings.topic_quotas, 1)
    quota = QuotaSet.model_validate(value)
    assert (key, quota.rep_id, quota.month, quota.amount, quota.currency) == (
        "juan",
        "juan",
        "2026-01",
        Decimal("90000.50"),
        "EUR",
    )
    assert quota.event_id.startswith("quota-")

    assert main(["quotas", "set", "--rep", "juan", "--month", "2026-1", "--amount", "1"]) == 1
    assert capsys.readouterr().err.startswith("error: schema: month: String should match")
    assert main([*argv, "--currency", "CHF"]) == 1
    assert capsys.readouterr().err.startswith("error: unsupported_currency: currency: CHF")
    assert record_count(settings.kafka_bootstrap, settings.topic_quotas) == 1


def test_send_events_returns_counts_per_topic_and_acknowledges_each(settings: Settings) -> None:
    deal = DealWon(
        event_id="d-20",
        subscription_id="sub-20",
        customer_id="cus-20",
        rep_id="juan",
        closed_at=datetime(2026, 1, 5, tzinfo=UTC),
        mrr=Decimal("0.1000000000000000055511151231257827"),
        currency="USD",
    )
    cancellation = SubscriptionCancelled(
        event_id="c-20", subscription_id="sub-20", cancelled_at=datetime(2026, 2, 5, tzinfo=UTC)
    )
    acks: list[None] = []
    counts = send_events(settings, [deal, cancellation, deal], on_ack=lambda: acks.append(None))
    assert counts == {settings.topic_deals: 2, settings.topic_cancellations: 1}
    assert len(acks) == 3
    deals = read_back(settings, settings.topic_deals, 2)
    assert [DealWon.model_validate(value) for _, value in deals] == [deal, deal]
    assert deals[0][1]["mrr"] == Decimal("0.1000000000000000055511151231257827")


def test_read_events_uses_the_validator_it_is_given() -> None:
    strict = Validator.from_settings(Settings())  # no FX rates: EUR is unsupported
    events, invalid = read_events([str(DATA / "events.jsonl")], strict)
    assert [event.event_id for event in events] == ["d-1", "c-1", "q-1"]
    assert [(problem.line, problem.rejection.reason) for problem in invalid] == [
        (2, Reason.UNSUPPORTED_CURRENCY)
    ]
    assert str(invalid[0]).startswith(f"{DATA / 'events.jsonl'}:2: unsupported_currency: ")
    events, invalid = read_events([str(DATA / "events.jsonl")], strict, TopicKind.QUOTAS)
    assert [event.event_id for event in events] == ["q-1"]
    assert [problem.rejection.reason for problem in invalid] == [Reason.WRONG_TOPIC] * 3


def test_a_json_document_is_one_event_or_an_array_of_events(tmp_path: Path) -> None:
    validator = Validator.from_settings(Settings(fx_rates={"EUR": Decimal("1.08")}))
    examples = sorted((Path(__file__).parents[1] / "schemas" / "examples").glob("deal_won*"))
    events, invalid = read_events([str(path) for path in examples], validator, TopicKind.DEALS)
    assert invalid == []
    assert len(events) == len(examples) > 1

    array = tmp_path / "events.json"
    array.write_text(
        "[\n"
        '  {"type": "quota_set", "event_id": "q-1", "rep_id": "juan", "month": "2026-01",\n'
        '   "amount": 90000.10, "currency": "USD"},\n'
        '  {"type": "quota_set", "event_id": "q-2", "rep_id": "juan", "month": "2026-13",\n'
        '   "amount": 1, "currency": "USD"},\n'
        '  {"type": "quota_set", "event_id": "q-3", "rep_id": "ana", "month": "2026-02",\n'
        '   "amount": "0.1000000000000000055511151231257827", "currency": "USD"}\n'
        "]\n"
    )
    events, invalid = read_events([str(array)], validator)
    assert [event.event_id for event in events] == ["q-1", "q-3"]
    # The original text reaches the validator: no float rounding on the way.
    assert [event.amount for event in events if isinstance(event, QuotaSet)] == [
        Decimal("90000.10"),
        Decimal("0.1000000000000000055511151231257827"),
    ]
    assert [(problem.line, problem.rejection.reason) for problem in invalid] == [(4, Reason.SCHEMA)]


@pytest.mark.parametrize(
    ("text", "line", "detail"),
    [
        ('[{"event_id": "q-1"} {"event_id": "q-2"}]', 1, "array: expected ',' or ']'"),
        ('[\n  {"event_id": "q-1",\n', 2, "array: Expecting property name"),
    ],
)
def test_a_broken_json_array_is_reported_where_it_breaks(
    tmp_path: Path, text: str, line: int, detail: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text)
    _, invalid = read_events([str(path)], Validator.from_settings(Settings()))
    [problem] = [p for p in invalid if p.rejection.reason is Reason.INVALID_JSON]
    assert problem.line == line
    assert problem.rejection.detail.startswith(detail)


def test_a_file_that_cannot_be_read_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.jsonl"
    assert main(["publish", "--dry-run", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: cannot read {missing}: No such file or directory\n"
    assert main(["publish", "--dry-run", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: cannot read {tmp_path}: Is a directory\n"


def test_csv_edge_cases_are_reported_by_line(tmp_path: Path) -> None:
    validator = Validator.from_settings(Settings())
    header = "event_id,subscription_id,cancelled_at\n"
    wide = tmp_path / "wide.csv"
    wide.write_text(header + "c-1,sub-1,2026-01-20T00:00:00Z\nc-2,sub-2,2026-01-20T00:00:00Z,x\n")
    events, invalid = read_events([str(wide)], validator)
    assert [event.event_id for event in events] == ["c-1"]
    assert [(p.line, p.rejection.detail) for p in invalid] == [
        (3, "row: 4 cells but the header has 3 columns")
    ]

    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(header.encode() + "c-3,sub-\xe9,2026-01-20T00:00:00Z\n".encode("latin-1"))
    _, invalid = read_events([str(latin1)], validator)
    [problem] = invalid
    assert (problem.line, problem.rejection.reason) == (2, Reason.INVALID_JSON)
    assert problem.rejection.detail.startswith("file: not UTF-8")

    # Excel writes a byte-order mark; the first column is still event_id.
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (header + "c-4,sub-4,2026-01-20T00:00:00Z\n").encode())
    events, invalid = read_events([str(bom)], validator)
    assert ([event.event_id for event in events], invalid) == (["c-4"], [])


def test_ndjson_is_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text((DATA / "events.jsonl").read_text())
    jsonl, _ = read_events([str(DATA / "events.jsonl")], Validator.from_settings(Settings()))
    ndjson, _ = read_events([str(path)], Validator.from_settings(Settings()))
    assert [event.event_id for event in ndjson] == [event.event_id for event in jsonl] != []
