"""`retained-mrr simulate`: history and/or live events to Kafka or a JSON Lines file."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from kafka.errors import KafkaError

from stream.config import Settings
from stream.kafka_failures import explain
from stream.simulate import (
    DEFAULT_FX_RATES,
    DEFAULT_REPS,
    NO_FAULTS,
    Faults,
    Record,
    Rep,
    SimConfig,
    Simulator,
)
from stream.simulate_kafka import KafkaSink, SendError

if TYPE_CHECKING:
    from stream.cli import Subparsers

__all__ = ["register"]

DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


class Sink(Protocol):
    def send(self, record: Record) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> dict[str, int]: ...


class FileSink:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._counts: Counter[str] = Counter()

    def send(self, record: Record) -> None:
        self._stream.write(record.raw + b"\n")
        self._counts[record.kind] += 1

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> dict[str, int]:
        self._stream.close()
        return dict(self._counts)


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset; write e.g. 2026-07-01T00:00:00Z")
    return moment.astimezone(UTC)


def parse_months(text: str) -> int:
    digits = text.removesuffix("m")
    if not digits.isdigit() or int(digits) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give months, e.g. 12m")
    return int(digits)


def parse_rate(text: str) -> float:
    try:
        rate = float(text.removesuffix("/s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give events per second, e.g. 5/s") from None
    if rate <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the rate must be > 0")
    return rate


def parse_duration(text: str) -> float:
    unit = DURATION_UNITS.get(text[-1:], 1)
    try:
        return float(text.rstrip("smh")) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a duration, e.g. 90s, 5m, 1h") from None


def parse_share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = math.nan
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a share between 0 and 1, e.g. 0.02")
    return share


def parse_rep(text: str) -> Rep:
    """`ID[:NAME[:QUOTA[:DEALS_PER_MONTH[:EARLY_CHURN]]]]`, defaults from the built-in rep
    of that id (or an average one)."""
    parts = text.split(":")
    builtin = {rep.rep_id: rep for rep in DEFAULT_REPS}
    rep = builtin.get(parts[0], replace(DEFAULT_REPS[2], rep_id=parts[0], name=parts[0]))
    try:
        if len(parts) > 1 and parts[1]:
            rep = replace(rep, name=parts[1])
        if len(parts) > 2 and parts[2]:
            rep = replace(rep, quota=Decimal(parts[2]), quota_currency=None)
        if len(parts) > 3 and parts[3]:
            rep = replace(rep, deals_per_month=float(parts[3]))
        if len(parts) > 4 and parts[4]:
            rep = replace(rep, early_churn=float(parts[4]))
    except (ValueError, InvalidOperation):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected ID[:NAME[:QUOTA[:DEALS_PER_MONTH[:EARLY_CHURN]]]]"
        ) from None
    return rep


def paced_clock(start: datetime, rate: float, duration: float | None) -> Iterator[datetime]:
    """Tick times `start + i/rate`, each released when that much real time has passed."""
    began = time.monotonic()
    tick = 0
    while duration is None or tick / rate < duration:
        time.sleep(max(0.0, began + tick / rate - time.monotonic()))
        yield start + timedelta(seconds=tick / rate)
        tick += 1


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="generate realistic deal/cancellation/quota events (seeded)",
        description="Publish a back-dated history (--history) and/or live events (--rate) "
        "to Kafka, or write them as JSON Lines (--out). Same --seed and --now, same events.",
    )
    parser.add_argument("--history", type=parse_months, metavar="MONTHS", help="e.g. 12m")
    parser.add_argument("--rate", type=parse_rate, metavar="N/s", help="live events per second")
    parser.add_argument("--duration", type=parse_duration, help="stop live mode after, e.g. 5m")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--now",
        type=parse_time,
        help="RFC 3339; where the history ends and the live stream starts. Default: the"
        " history ends at the start of today (UTC), so a seed gives the same file all day,"
        " and the live stream starts at the wall clock",
    )
    parser.add_argument("--out", type=Path, help="write JSON Lines here instead of Kafka")
    parser.add_argument(
        "--history-marker",
        type=Path,
        metavar="FILE",
        help="skip the history if FILE exists, and create it once the history is sent: a"
        " restarted simulator on a later day would otherwise add a second history, with"
        " other ids, on top of the first",
    )
    parser.add_argument(
        "--rep",
        action="append",
        type=parse_rep,
        dest="reps",
        metavar="ID[:NAME[:QUOTA[:DEALS[:EARLY_CHURN]]]]",
        help="repeat to choose the reps (default: juan, miguel, ana, li, sofia)",
    )
    for name, value in asdict(Faults()).items():
        parser.add_argument(
            f"--{name.replace('_', '-')}-rate",
            dest=f"{name}_rate",
            type=parse_share,
            default=value,
            help=f"fault rate (default {value})",
        )
    parser.add_argument("--no-faults", action="store_true", help="set every fault rate to 0")
    parser.set_defaults(handler=run)


def _history(simulator: Simulator, args: argparse.Namespace, wall: datetime) -> Iterator[Record]:
    months = args.history or (None if args.rate else 12)
    if not months:
        return
    marker: Path | None = args.history_marker
    if marker is not None and marker.exists():
        print(f"history: already sent ({marker} exists)", file=sys.stderr)
        return
    yield from simulator.history(args.now or wall.replace(hour=0, minute=0, second=0), months)


def _live(simulator: Simulator, args: argparse.Namespace, wall: datetime) -> Iterator[Record]:
    if args.rate:
        start = args.now or wall
        print(f"live: {args.rate}/s from {start:%Y-%m-%dT%H:%M:%SZ}, Ctrl-C stops", file=sys.stderr)
        yield from simulator.live(paced_clock(start, args.rate, args.duration))


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        return simulate(args, settings)
    except (KafkaError, SendError) as error:
        print(f"error: Kafka at {settings.kafka_bootstrap}: {explain(error)}", file=sys.stderr)
        return 1


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    fx_rates = dict(settings.fx_rates) or dict(DEFAULT_FX_RATES)
    faults = (
        NO_FAULTS
        if args.no_faults
        else Faults(**{name: getattr(args, f"{name}_rate") for name in asdict(Faults())})
    )
    config = SimConfig(
        reps=tuple(args.reps or DEFAULT_REPS),
        base_currency=settings.base_currency,
        fx_rates=fx_rates,
        faults=faults,
    )
    rates = ",".join(f"{code}={rate}" for code, rate in sorted(fx_rates.items()))
    print(f"FX rates: {rates} (the worker needs RETAINED_MRR_FX_RATES={rates})", file=sys.stderr)
    simulator = Simulator(config, args.seed)
    sink: Sink = FileSink(args.out.open("wb")) if args.out else KafkaSink(settings)
    faults_seen: Counter[str] = Counter()

    def send(records: Iterable[Record]) -> int:
        sent = 0
        for record in records:
            sink.send(record)
            sent += 1
            null_key = "null_key" if record.key is None else None
            faults_seen.update(fault for fault in (record.fault, null_key) if fault)
        return sent

    wall = datetime.now(UTC).replace(microsecond=0)
    try:
        if send(_history(simulator, args, wall)) and args.history_marker is not None:
            sink.flush()  # marked only once every history record is acknowledged
            args.history_marker.touch()
        send(_live(simulator, args, wall))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        counts = sink.close()
    for destination, count in sorted(counts.items()):
        print(f"{destination}: {count}")
    if faults_seen:
        print("faults: " + ", ".join(f"{k}={v}" for k, v in sorted(faults_seen.items())))
    return 0
