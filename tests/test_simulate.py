"""The simulator: determinism, validity, the faults it promises and the story it tells."""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.events import DealWon, EventAdapter, QuotaSet, SubscriptionCancelled
from stream.config import Settings
from stream.simulate import (
    DEFAULT_FX_RATES,
    NO_FAULTS,
    Faults,
    Record,
    SimConfig,
    Simulator,
    juan_and_miguel_events,
    to_record,
)
from stream.simulate_cli import register, simulate
from stream.simulate_kafka import publish_records
from stream.topics import create_topics
from stream.validation import Rejection, Validator
from tests.support.kafka import read_all, unique

NOW = datetime(2026, 7, 1, tzinfo=UTC)
SETTINGS = Settings(fx_rates=DEFAULT_FX_RATES)
FX = {"USD": Decimal(1), **DEFAULT_FX_RATES}
MONTHS = {"month": 1, "quarter": 3, "year": 12}


def history(seed: int = 7, faults: Faults | None = None, months: int = 12) -> list[Record]:
    config = SimConfig(faults=Faults() if faults is None else faults)
    return list(Simulator(config, seed).history(NOW, months))


def valid_events(
    records: Sequence[Record], now: datetime = NOW
) -> list[DealWon | SubscriptionCancelled | QuotaSet]:
    validator = Validator.from_settings(SETTINGS, clock=lambda: now)
    decoded = [validator.decode_any(record.raw) for record in records if not record.invalid]
    assert not [item for item in decoded if isinstance(item, Rejection)]
    return [item for item in decoded if not isinstance(item, Rejection)]


def usd(deal: DealWon) -> Decimal:
    amount, period = deal.billed
    return amount / MONTHS[period] * FX[deal.currency]


def test_same_seed_and_now_give_the_same_records_and_another_seed_does_not() -> None:
    first, again, other = history(7), history(7), history(8)

    assert [record.raw for record in first] == [record.raw for record in again]
    assert [record.key for record in first] == [record.key for record in again]
    assert [record.raw for record in first] != [record.raw for record in other]


@pytest.mark.parametrize(
    "now", [["--now", "2026-07-01T00:00:00Z"], []], ids=["fixed-now", "default-now"]
)
def test_cli_out_file_is_byte_identical_across_runs(tmp_path: Path, now: list[str]) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp_path / name
        args = parser.parse_args(
            ["simulate", "--seed", "5", *now, "--history", "3m", "--out", str(out)]
        )
        assert simulate(args, SETTINGS) == 0
        outputs.append(out.read_bytes())

    assert outputs[0] == outputs[1]
    lines = outputs[0].splitlines()
    assert len(lines) > 100
    assert all(b"\n" not in line for line in lines)


def test_the_history_marker_sends_the_history_once(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    marker = tmp_path / "state" / "history-sent"
    marker.parent.mkdir()
    sizes = []
    for name in ("first.jsonl", "restarted.jsonl"):
        out = tmp_path / name
        argv = ["simulate", "--history", "2m", "--out", str(out), "--history-marker", str(marker)]
        assert simulate(parser.parse_args(argv), SETTINGS) == 0
        sizes.append(len(out.read_bytes().splitlines()))
        assert marker.exists()
    assert sizes[0] > 50
    assert sizes[1] == 0


def test_validator_accepts_every_line_except_exactly_the_injected_invalid_ones() -> None:
    records = history(3, Faults(invalid=0.2))
    validator = Validator.from_settings(SETTINGS, clock=lambda: NOW)

    rejected = [isinstance(validator.decode_any(record.raw), Rejection) for record in records]

    assert rejected == [record.invalid for record in records]
    kinds = Counter(record.fault for record in records if record.invalid)
    assert set(kinds) == {"missing_field", "unsupported_currency", "invalid_json"}


def test_events_follow_the_contract() -> None:
    records = history(11)
    events = valid_events(records)
    texts = [json.loads(record.raw) for record in records if not record.invalid]

    assert {type(event) for event in events} == {DealWon, SubscriptionCancelled, QuotaSet}
    stamps = [value for text in texts for name, value in text.items() if name.endswith("_at")]
    assert all(stamp.endswith("Z") and len(stamp) == 20 for stamp in stamps)
    money = [text[name] for text in texts for name in ("mrr", "amount") if name in text]
    assert all(isinstance(value, str) and Decimal(value) > 0 for value in money)
    deals = [event for event in events if isinstance(event, DealWon)]
    assert {deal.billed[1] for deal in deals} == {"month", "quarter", "year"}
    assert {deal.currency for deal in deals} == {"USD", "EUR", "GBP"}
    assert {deal.lead_source for deal in deals} == {
        "referral", "partner", "webinar", "outbound", "paid-ads",
    }  # fmt: skip
    assert all(NOW - timedelta(days=366) <= deal.closed_at <= NOW for deal in deals)
    cancellations = [event for event in events if isinstance(event, SubscriptionCancelled)]
    assert all(event.cancelled_at <= NOW for event in cancellations)
    assert any(event.effective_at > NOW for event in cancellations), "no scheduled cancellation"
    quotas = {(event.rep_id, event.month) for event in events if isinstance(event, QuotaSet)}
    assert len(quotas) == 5 * 13  # five reps, July 2025 (partly) to July 2026


def test_keys_follow_the_topic_contract() -> None:
    for record in history(4, NO_FAULTS):
        assert record.event is not None
        expected = record.event["rep_id" if record.kind == "quotas" else "subscription_id"]
        assert record.key == expected
    # Compacted topics (quotas) refuse null keys, so that fault never touches them.
    nulls = Counter(
        record.kind for record in history(4, Faults(null_key=0.5)) if record.key is None
    )
    assert nulls["quotas"] == 0 and nulls["deals"] > 100 and nulls["cancellations"] > 20


def fault_counts(records: Sequence[Record]) -> Counter[str]:
    counts: Counter[str] = Counter()
    seen: set[bytes] = set()
    deal_ids: dict[object, set[object]] = defaultdict(set)
    dealt: set[object] = set()
    for record in records:
        if record.invalid:
            counts["invalid"] += 1
            continue
        assert record.event is not None
        counts["null_key"] += record.key is None
        counts["duplicate"] += record.raw in seen
        seen.add(record.raw)
        subscription = record.event.get("subscription_id")
        if record.kind == "deals":
            deal_ids[subscription].add(record.event["event_id"])
            dealt.add(subscription)
        elif record.kind == "cancellations":
            counts["cancellation_before_deal"] += subscription not in dealt
    counts["correction"] = sum(len(ids) - 1 for ids in deal_ids.values())
    return counts


def test_fault_rates_produce_the_faults() -> None:
    rate = 0.1
    records = history(9, Faults(rate, rate, rate, rate, rate))
    deals = sum(record.fault in (None, "early_cancellation") and record.kind == "deals"
                for record in records)  # fmt: skip
    counts = fault_counts(records)

    for fault, population in (
        ("duplicate", len(records)),
        ("null_key", len(records)),
        ("correction", deals),
        ("cancellation_before_deal", deals),
        ("invalid", deals),
    ):
        expected = rate * population
        assert 0.6 * expected <= counts[fault] <= 1.4 * expected, (fault, counts[fault], expected)
    assert fault_counts(history(9, NO_FAULTS)) == Counter(
        {
            "invalid": 0,
            "null_key": 0,
            "duplicate": 0,
            "cancellation_before_deal": 0,
            "correction": 0,
        }
    )


def test_juan_beats_quota_and_miguel_does_not_but_miguel_keeps_more() -> None:
    events = valid_events(history(21))
    latest = {event.subscription_id: event for event in events if isinstance(event, DealWon)}
    churned = {
        event.subscription_id
        for event in events
        if isinstance(event, SubscriptionCancelled) and event.effective_at <= NOW
    }
    quota = {
        (event.rep_id, event.month): event.amount for event in events if isinstance(event, QuotaSet)
    }
    complete_months = [f"2025-{month:02d}" for month in range(8, 13)] + [
        f"2026-{month:02d}" for month in range(1, 7)
    ]
    figures = {}
    for rep in ("juan", "miguel"):
        deals = [deal for deal in latest.values() if deal.rep_id == rep]
        closed = [deal for deal in deals if deal.closed_at.strftime("%Y-%m") in complete_months]
        new = sum(usd(deal) for deal in deals)
        kept = sum(usd(deal) for deal in deals if deal.subscription_id not in churned)
        attainment = sum(usd(deal) for deal in closed) / sum(
            quota[rep, month] for month in complete_months
        )
        figures[rep] = (attainment, kept / new)

    assert figures["juan"][0] > Decimal("1.05")
    assert figures["miguel"][0] < Decimal("0.9")
    assert figures["miguel"][1] > Decimal("0.9") > Decimal("0.7") > figures["juan"][1]


def test_live_mode_continues_the_history() -> None:
    simulator = Simulator(SimConfig(faults=NO_FAULTS), 2)
    past = list(simulator.history(NOW, 2))
    ticks = [NOW + timedelta(seconds=second) for second in range(1, 201)]
    live = list(simulator.live(ticks))

    assert len(live) == 200
    earlier = {record.key for record in past if record.kind == "deals"}
    live_deals = [record for record in live if record.kind == "deals"]
    cancelled = [record for record in live if record.kind == "cancellations"]
    stamps = {f"{tick:%Y-%m-%dT%H:%M:%SZ}" for tick in ticks}
    assert live_deals
    assert all(record.event and record.event["closed_at"] in stamps for record in live_deals)
    assert 20 <= len(cancelled) <= 80
    assert {record.key for record in cancelled} <= earlier | {r.key for r in live_deals}
    valid_events(live)


def test_juan_and_miguel_example_events() -> None:
    events = [EventAdapter.validate_python(event) for event in juan_and_miguel_events(NOW)]
    deals = [event for event in events if isinstance(event, DealWon)]
    cancellations = [event for event in events if isinstance(event, SubscriptionCancelled)]

    assert Counter(deal.rep_id for deal in deals) == {"juan": 20, "miguel": 14}
    assert {(deal.lead_source, deal.closed_at.date().isoformat(), deal.mrr) for deal in deals} == {
        ("outbound", "2026-01-10", Decimal(5000)),
        ("referral", "2026-01-12", Decimal(5000)),
    }
    assert Counter(event.effective_at.date().isoformat() for event in cancellations) == {
        "2026-02-20": 10,
        "2026-06-01": 1,
    }
    quotas = {(e.rep_id, e.month, e.amount) for e in events if isinstance(e, QuotaSet)}
    assert quotas == {("juan", "2026-01", Decimal(90000)), ("miguel", "2026-01", Decimal(90000))}
    # Before Miguel's customer cancels, only Juan's cancellations have been published.
    assert len(juan_and_miguel_events(datetime(2026, 4, 1, tzinfo=UTC))) == 2 + 34 + 10


def test_simulate_kafka_publishes_what_the_generator_produced(kafka_bootstrap: str) -> None:
    names = {kind: unique(f"sim-{kind}") for kind in ("deals", "cancellations", "quotas")}
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_deals=names["deals"],
        topic_cancellations=names["cancellations"],
        topic_quotas=names["quotas"],
        topic_dead_letter=unique("sim-dead-letter"),
        partitions=3,
    )
    create_topics(settings)  # as `retained-mrr topics create` does: quotas compacted
    records = history(13, Faults(0.05, 0.05, 0.05, 0.2, 0.05), months=2)
    example_deal = next(e for e in juan_and_miguel_events(NOW) if e["type"] == "deal_won")
    records.append(to_record(example_deal, null_key=True))

    acknowledged = publish_records(records, settings)

    for kind, topic in names.items():
        sent = [record for record in records if record.kind == kind]
        assert acknowledged[topic] == len(sent)
        received = read_all(kafka_bootstrap, topic, len(sent))
        by_value: dict[bytes, list[bytes | None]] = defaultdict(list)
        for message in received:
            by_value[message.value].append(message.key)  # type: ignore[attr-defined]
        expected: dict[bytes, list[bytes | None]] = defaultdict(list)
        for record in sent:
            expected[record.raw].append(None if record.key is None else record.key.encode())
        assert {raw: sorted(keys, key=str) for raw, keys in by_value.items()} == {
            raw: sorted(keys, key=str) for raw, keys in expected.items()
        }
    assert any(record.key is None for record in records if record.kind == "deals")
    assert any(record.invalid for record in records)


@pytest.mark.parametrize("now", [NOW, NOW + timedelta(days=40)])
def test_history_reaches_now_and_not_beyond(now: datetime) -> None:
    records = list(Simulator(SimConfig(), 1).history(now, 1))
    deals = [deal for deal in valid_events(records, now) if isinstance(deal, DealWon)]

    assert max(deal.closed_at for deal in deals) <= now
    assert min(deal.closed_at for deal in deals) >= now - timedelta(days=31)
    assert len(deals) > 40


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--now", "2026-07-01T00:00:00"], "has no offset; write e.g. 2026-07-01T00:00:00Z"),
        (["--history", "0m"], "'0m': give months, e.g. 12m"),
        (["--history", "twelve"], "'twelve': give months, e.g. 12m"),
        (["--rate", "0/s"], "'0/s': the rate must be > 0"),
        (["--rate", "fast"], "'fast': give events per second, e.g. 5/s"),
        (["--duration", "soon"], "'soon': give a duration, e.g. 90s, 5m, 1h"),
        (["--duplicate-rate", "-1"], "'-1': give a share between 0 and 1, e.g. 0.02"),
        (["--invalid-rate", "5"], "'5': give a share between 0 and 1, e.g. 0.02"),
        (["--rep", "x:X:lots"], "--rep"),
    ],
)
def test_simulate_options_are_checked(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="retained-mrr")
    register(parser.add_subparsers())
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["simulate", *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_simulate_options_are_read() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "simulate",
            "--now",
            "2026-07-01T02:00:00+02:00",
            "--history",
            "3m",
            "--rate",
            "2.5/s",
            "--duration",
            "5m",
            "--duplicate-rate",
            "0.5",
            "--rep",
            "zoe:Zoe Q:120000:8",
        ]
    )
    assert args.now == datetime(2026, 7, 1, tzinfo=UTC)
    assert (args.history, args.rate, args.duration, args.duplicate_rate) == (3, 2.5, 300.0, 0.5)
    [rep] = args.reps
    assert (rep.rep_id, rep.name, rep.quota, rep.deals_per_month) == (
        "zoe",
        "Zoe Q",
        Decimal(120000),
        8,
    )
