"""`retained-mrr publish` and `quotas set`: validate events, then send them to their topics.

Nothing is sent until every input line has been validated with the worker's own
`Validator`, so a file is published whole or (without --allow-partial) not at all.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kafka import KafkaProducer
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import Progress

from schemas.encoding import dumps
from schemas.events import DealWon, QuotaSet, SubscriptionCancelled
from stream.config import Settings
from stream.kafka_failures import explain
from stream.validation import AnyEvent, Reason, Rejection, TopicKind, Validator

if TYPE_CHECKING:
    from stream.cli import Subparsers

__all__ = ["Invalid", "read_events", "register", "send_events", "topic_and_key"]

STDIN = "-"
# Columns only one event kind has, to tell a CSV file's kind from its header.
_CSV_MARKERS = {
    "closed_at": TopicKind.DEALS,
    "cancelled_at": TopicKind.CANCELLATIONS,
    "month": TopicKind.QUOTAS,
}


@dataclass(frozen=True)
class _Record:
    line: int
    content: bytes | Rejection  # JSON text, or why the record could not be read at all
    kind: TopicKind | None = None  # None: the record's own `type` decides


@dataclass(frozen=True)
class Invalid:
    source: str
    line: int
    rejection: Rejection

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.rejection.reason}: {self.rejection.detail}"


def topic_and_key(settings: Settings, event: AnyEvent) -> tuple[str, str]:
    """The topic of an event and its message key (SPEC section 2)."""
    if isinstance(event, DealWon):
        return settings.topic_deals, event.subscription_id
    if isinstance(event, SubscriptionCancelled):
        return settings.topic_cancellations, event.subscription_id
    return settings.topic_quotas, event.rep_id


def send_events(
    settings: Settings,
    events: Iterable[DealWon | SubscriptionCancelled | QuotaSet],
    on_ack: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Send every event and wait for every acknowledgement (acks=all).

    :return: events sent per topic.
    :raises kafka.errors.KafkaError: a send failed.
    """
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.app_id}-publish",
        acks="all",
        **settings.kafka_client_options(),
    )
    try:
        pending = []
        for event in events:
            topic, key = topic_and_key(settings, event)
            future = producer.send(topic, key=key.encode(), value=dumps(event))
            if on_ack is not None:
                future.add_callback(lambda _metadata: on_ack())
            pending.append((topic, future))
        producer.flush()
        counts: Counter[str] = Counter()
        for topic, future in pending:
            future.get()
            counts[topic] += 1
    finally:
        producer.close()
    return dict(counts)


def _format(source: str, data: bytes) -> str:
    """csv, jsonl, or json (one document: an event, or an array of events)."""
    suffix = "" if source == STDIN else Path(source).suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    start = data.lstrip()[:1]
    return {b"{": "jsonl", b"[": "json"}.get(start, "csv")


def _json_records(data: bytes, kind: TopicKind | None) -> Iterator[_Record]:
    """Each event of a JSON document, by the line it starts on: its original bytes go to
    the validator, so numbers keep their precision."""
    text = data.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()

    def skip(index: int) -> int:
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        return index

    def line(index: int) -> int:
        return text.count("\n", 0, index) + 1

    index = skip(0)
    if not text.startswith("[", index):
        yield _Record(line(index), data, kind)
        return
    index = skip(index + 1)
    while not text.startswith("]", index):
        try:
            _, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as error:
            yield _Record(line(index), Rejection(Reason.INVALID_JSON, f"array: {error.msg}"))
            return
        yield _Record(line(index), text[index:end].encode(), kind)
        index = skip(end)
        if text.startswith(",", index):
            index = skip(index + 1)
        elif not text.startswith("]", index):
            detail = "array: expected ',' or ']' after an event"
            yield _Record(line(index), Rejection(Reason.INVALID_JSON, detail))
            return


def _jsonl_records(data: bytes, kind: TopicKind | None) -> Iterator[_Record]:
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            yield _Record(number, line.removesuffix(b"\r"), kind)


def _csv_kind(header: list[str]) -> TopicKind | None:
    kinds = {_CSV_MARKERS[column] for column in header if column in _CSV_MARKERS}
    return kinds.pop() if len(kinds) == 1 else None


def _csv_records(data: bytes, given: TopicKind | None) -> Iterator[_Record]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        yield _Record(line, Rejection(Reason.INVALID_JSON, f"file: not UTF-8 ({error.reason})"))
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [column.strip() for column in next(reader, [])]
    kind = given or _csv_kind(header)
    if kind is None:
        detail = "header: cannot tell the event type from the columns; pass --type"
        yield _Record(1, Rejection(Reason.SCHEMA, detail))
        return
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            detail = f"row: {len(cells)} cells but the header has {len(header)} columns"
            yield _Record(reader.line_num, Rejection(Reason.SCHEMA, detail))
            continue
        # An empty cell is an absent field, so optional columns may be left blank.
        row = {column: cell for column, cell in zip(header, cells, strict=False) if cell}
        yield _Record(reader.line_num, json.dumps(row).encode(), kind)


def _decode(record: _Record, validator: Validator) -> AnyEvent | Rejection:
    if isinstance(record.content, Rejection):
        return record.content
    if record.kind is None:
        return validator.decode_any(record.content)
    return validator.decode(record.content, record.kind)


def read_events(
    sources: Iterable[str], validator: Validator, kind: TopicKind | None = None
) -> tuple[list[AnyEvent], list[Invalid]]:
    """Validate every record of JSON Lines, JSON or CSV `sources` (`-` is stdin).

    :param kind: decode every record as this kind; JSON records then need no `type`.
    :raises OSError: a source cannot be read.
    """
    events: list[AnyEvent] = []
    invalid: list[Invalid] = []
    for source in sources:
        data = sys.stdin.buffer.read() if source == STDIN else Path(source).read_bytes()
        reader = {"csv": _csv_records, "json": _json_records, "jsonl": _jsonl_records}
        records = reader[_format(source, data)](data, kind)
        for record in records:
            event = _decode(record, validator)
            if isinstance(event, Rejection):
                invalid.append(Invalid(source, record.line, event))
            else:
                events.append(event)
    return events, invalid


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None] | None]:
    """An acknowledgement counter drawn on stderr, only for a person watching it."""
    if not sys.stderr.isatty():
        yield None
        return
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("sending", total=total)
        yield lambda: progress.advance(task)


def _send(settings: Settings, events: list[AnyEvent]) -> int:
    try:
        with _progress(len(events)) as on_ack:
            counts = send_events(settings, events, on_ack)
    except KafkaError as error:
        print(
            f"error: sending to Kafka at {settings.kafka_bootstrap} failed: {explain(error)}",
            file=sys.stderr,
        )
        return 1
    for topic, count in sorted(counts.items()):
        print(f"sent {count} to {topic}")
    return 0


def _run_publish(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    kind = TopicKind(args.type) if args.type else None
    try:
        events, invalid = read_events(args.files, Validator.from_settings(settings), kind)
    except OSError as error:
        print(f"error: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    for problem in invalid:
        print(problem, file=sys.stderr)
    summary = f"{len(events)} valid, {len(invalid)} invalid"
    if args.dry_run or (invalid and not args.allow_partial):
        print(f"{summary}; nothing sent")
        return 1 if invalid else 0
    print(summary)
    status = _send(settings, events)
    return 1 if invalid else status


def _run_quota(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    record = {
        # Each `quotas set` is a new decision, so a fresh id: the latest one wins.
        "event_id": f"quota-{uuid.uuid4()}",
        "type": TopicKind.QUOTAS.value,
        "rep_id": args.rep,
        "month": args.month,
        "amount": args.amount,
        "currency": args.currency or settings.base_currency,
    }
    event = Validator.from_settings(settings).decode(json.dumps(record).encode(), TopicKind.QUOTAS)
    if isinstance(event, Rejection):
        print(f"error: {event.reason}: {event.detail}", file=sys.stderr)
        return 1
    return _send(settings, [event])


def register(subparsers: Subparsers) -> None:
    publish = subparsers.add_parser(
        "publish",
        help="validate and publish events from JSON Lines, JSON or CSV files",
        description="Validate every line first (with the worker's rules), report each invalid"
        " one as FILE:LINE: REASON: DETAIL, then send the events to their topics. JSON Lines"
        " need a `type` per line, as do the events of a .json file (one event or an array);"
        " a CSV file holds one event type (--type, or inferred from its columns). Exits 1 if"
        " any line is invalid, 2 if a file cannot be read.",
    )
    publish.add_argument("files", nargs="+", metavar="FILE", help="input file; - reads stdin")
    publish.add_argument(
        "--type", choices=[kind.value for kind in TopicKind], help="event type of every line"
    )
    publish.add_argument("--dry-run", action="store_true", help="validate only, send nothing")
    publish.add_argument(
        "--allow-partial",
        action="store_true",
        help="send the valid events even if some lines are invalid (still exits 1)",
    )
    publish.set_defaults(handler=_run_publish)

    quotas = subparsers.add_parser("quotas", help="manage sales quotas")
    actions = quotas.add_subparsers(title="actions", required=True, metavar="ACTION")
    set_quota = actions.add_parser("set", help="publish a rep's quota for a month")
    set_quota.add_argument("--rep", required=True, help="rep_id")
    set_quota.add_argument("--month", required=True, help="YYYY-MM")
    set_quota.add_argument("--amount", required=True, help="new MRR to close, e.g. 90000")
    set_quota.add_argument("--currency", help="ISO 4217 code (default: the base currency)")
    set_quota.set_defaults(handler=_run_quota)
