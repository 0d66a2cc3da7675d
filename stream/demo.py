"""`retained-mrr demo` (`make demo`): the whole pipeline on one machine.

Starts Kafka when none answers, creates this run's topics, runs the worker, publishes
twelve months of simulated history, waits until the worker has read it, keeps a live
stream going and shows the refreshing per-rep table until Ctrl-C or SIGTERM. Then it
stops what it started, in reverse order, and deletes this run's topics.

Every run gets fresh topic names and a fresh app id (hence a fresh consumer group and
fresh changelogs), so the history is never counted twice.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from kafka.errors import KafkaError

from stream import report_cli
from stream.config import Settings
from stream.demo_cleanup import Child, delete_run_topics
from stream.kafka_failures import explain
from stream.simulate import SimConfig, Simulator
from stream.simulate_kafka import SendError, publish_records
from stream.topics import TopicsError, create_topics

if TYPE_CHECKING:
    from stream.cli import Subparsers

__all__ = ["DemoError", "Plan", "plan", "register", "run"]

ROOT = Path(__file__).resolve().parents[1]
KAFKA_LOCAL = ROOT / "scripts" / "kafka-local"
PING = ROOT / "scripts" / "kafka" / "ping.py"
DEFAULT_DIR = ROOT / ".cache" / "demo"
# The simulator prices some deals in these; the worker rejects currencies it has no rate for.
FX_RATES = "EUR=1.08,GBP=1.27"
HISTORY_MONTHS = 12
HISTORY_SEED = 1
# Another seed for the live stream, so its ids never repeat the history's.
LIVE_SEED = 2
# Live deals close "now" and cannot have churned yet, so the rep who closes most gains
# retained MRR fastest while the demo runs: at 5/s Juan overtook Miguel within ~4
# minutes. 3/s still lifts Juan above this month's quota within the first minute even
# early in a month (the history holds only the month's first days) and keeps the
# story for several minutes; the 90-day retention gap never closes.
LIVE_RATE = "3/s"
WORKER_TIMEOUT_S = 60.0
CATCH_UP_TIMEOUT_S = 60.0
REFRESH_S = 2.0


class DemoError(RuntimeError):
    """A step failed; the message says which, and where its log is."""


@dataclass(frozen=True)
class Plan:
    """Where this run keeps its files, and the environment of every command it runs."""

    directory: Path
    env: dict[str, str]
    settings: Settings

    @property
    def metrics_url(self) -> str:
        return f"http://localhost:{self.settings.web_port}/metrics"

    @property
    def pid_file(self) -> Path:
        return self.directory / "pids"


def plan(environ: Mapping[str, str]) -> Plan:
    """The demo's settings: the caller's Kafka and web port, everything else its own.
    `RETAINED_MRR_DEMO_DIR` (default `.cache/demo`) holds the logs, pids and data."""
    app_id = f"retained-mrr-demo-{uuid.uuid4().hex[:8]}"
    directory = Path(environ.get("RETAINED_MRR_DEMO_DIR") or DEFAULT_DIR).resolve()
    env = dict(environ) | {
        "RETAINED_MRR_APP_ID": app_id,
        "RETAINED_MRR_TOPIC_DEALS": f"{app_id}.deals.won",
        "RETAINED_MRR_TOPIC_CANCELLATIONS": f"{app_id}.subscriptions.cancelled",
        "RETAINED_MRR_TOPIC_QUOTAS": f"{app_id}.sales.quotas",
        "RETAINED_MRR_TOPIC_DEAD_LETTER": f"{app_id}.dead-letter",
        "RETAINED_MRR_FX_RATES": FX_RATES,
        "RETAINED_MRR_STORE": "memory://",
        "RETAINED_MRR_DATA_DIR": str(directory / "data"),
        "RETAINED_MRR_WEB_HOST": "127.0.0.1",
    }
    return Plan(directory, env, Settings.from_env(env))


def _say(message: str) -> None:
    # After SIGHUP the terminal is gone; stopping must go on regardless.
    with contextlib.suppress(OSError):
        print(f"demo: {message}", flush=True)


def _interrupt(_signum: int, _frame: FrameType | None) -> NoReturn:
    # SIGTERM and SIGHUP (the terminal closed) end the demo exactly like Ctrl-C,
    # including the table's own exit path.
    raise KeyboardInterrupt


def _hold_on(_signum: int, _frame: FrameType | None) -> None:
    """A second Ctrl-C while stopping must not leave a half-stopped demo behind."""


def _wait_until(ready: Callable[[], bool], child: Child, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        code = child.exited()
        if code is not None:
            raise DemoError(
                f"the {child.name} exited ({code}) while waiting for {what};"
                f" last lines of {child.log}:\n{child.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise DemoError(
                f"no {what} within {timeout_s:.0f}s; last lines of {child.log}:\n{child.log_tail()}"
            )
        time.sleep(0.5)


def _consumed(url: str) -> dict[str, float] | None:
    """`sales_events_consumed_total` per topic, or None while /metrics does not answer."""
    try:
        families = report_cli.fetch_families(url, timeout_s=2.0)
    except report_cli.FetchError:
        return None
    return {
        sample.labels["topic"]: sample.value
        for family in families
        for sample in family.samples
        if sample.name == "sales_events_consumed_total"
    }


def _check_port_free(port: int) -> None:
    # Another worker on the port would answer in ours' place and show its own figures.
    with socket.socket() as probe:
        # As the worker's server does: a recently closed connection does not block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(
                f"port {port} is in use (another worker or demo?);"
                " set RETAINED_MRR_WEB_PORT to a free port"
            ) from None


def _ensure_broker(demo: Plan, stack: ExitStack) -> None:
    bootstrap = demo.settings.kafka_bootstrap
    ping = subprocess.run([sys.executable, str(PING), bootstrap], check=False, capture_output=True)
    if ping.returncode == 0:
        _say(f"Kafka answers at {bootstrap}; it stays running afterwards")
        return
    _say(f"no Kafka at {bootstrap}; starting scripts/kafka-local (the first start downloads it)")
    # Registered first: a start that times out may still leave a broker running.
    stack.callback(_stop_broker, demo)
    started = subprocess.run(
        [str(KAFKA_LOCAL), "start"], check=False, env=demo.env, stdout=subprocess.DEVNULL
    )
    if started.returncode != 0:
        raise DemoError(f"scripts/kafka-local start failed ({started.returncode}); see above")


def _stop_broker(demo: Plan) -> None:
    _say("stopping the Kafka broker it started")
    subprocess.run([str(KAFKA_LOCAL), "stop"], env=demo.env, check=False)


def _create_topics(demo: Plan, stack: ExitStack) -> None:
    stack.callback(_delete_topics, demo)
    try:
        report = create_topics(demo.settings)
    except (KafkaError, TopicsError) as error:
        raise DemoError(f"cannot create the topics: {explain(error)}") from None
    if report.errors:
        raise DemoError("; ".join(report.errors))
    _say(f"created topics {', '.join(report.created)}")


def _delete_topics(demo: Plan) -> None:
    try:
        deleted = delete_run_topics(demo.settings)
    except KafkaError as error:
        _say(
            f"could not delete this run's topics ({error}); they start with {demo.settings.app_id}"
        )
        return
    _say(f"deleted {len(deleted)} topics of this run")


def _start(demo: Plan, stack: ExitStack, name: str, args: list[str], stop: signal.Signals) -> Child:
    child = Child(
        name,
        [sys.executable, "-m", "stream.cli", *args],
        demo.env,
        demo.directory / f"{name}.log",
        ROOT,
    )
    stack.callback(_stop_child, child, stop)
    with demo.pid_file.open("a") as pids:
        pids.write(f"{name} {child.pid}\n")
    return child


def _stop_child(child: Child, sig: signal.Signals) -> None:
    _say(f"stopping the {child.name} (pid {child.pid})")
    child.stop(sig)


def _publish_history(demo: Plan) -> dict[str, int]:
    settings = demo.settings
    config = SimConfig(base_currency=settings.base_currency, fx_rates=dict(settings.fx_rates))
    now = datetime.now(UTC).replace(microsecond=0)
    history = Simulator(config, HISTORY_SEED).history(now, HISTORY_MONTHS)
    try:
        return publish_records(history, settings)
    except (KafkaError, SendError) as error:
        raise DemoError(f"publishing the history failed: {explain(error)}") from None


def _demo(demo: Plan, stack: ExitStack) -> None:
    demo.directory.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(demo.directory / "data", ignore_errors=True)
    demo.pid_file.unlink(missing_ok=True)
    _check_port_free(demo.settings.web_port)
    _ensure_broker(demo, stack)
    _create_topics(demo, stack)
    worker = _start(demo, stack, "worker", ["worker"], signal.SIGTERM)
    url = demo.metrics_url
    _say(f"worker started (log: {worker.log}); waiting for {url}")
    _wait_until(lambda: _consumed(url) is not None, worker, WORKER_TIMEOUT_S, f"answer at {url}")
    published = _publish_history(demo)
    _say(f"published {sum(published.values())} events: {HISTORY_MONTHS} months of history")

    def caught_up() -> bool:
        consumed = _consumed(url) or {}
        return all(consumed.get(topic, 0) >= count for topic, count in published.items())

    _wait_until(caught_up, worker, CATCH_UP_TIMEOUT_S, "worker catching up with the history")
    live = ["simulate", "--rate", LIVE_RATE, "--seed", str(LIVE_SEED)]
    simulator = _start(demo, stack, "simulator", live, signal.SIGINT)
    _say(f"live stream: {LIVE_RATE} (log: {simulator.log})")
    _say(f"metrics: {url}   Ctrl-C stops everything")
    report_cli.watch([url], REFRESH_S)


def run(_args: argparse.Namespace) -> int:
    demo = plan(os.environ)
    # Explicit, because a shell that starts the demo in the background makes it ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    stack = ExitStack()
    code = 0
    try:
        _demo(demo, stack)
    except KeyboardInterrupt:
        pass
    except DemoError as error:
        print(f"demo: error: {error}", file=sys.stderr, flush=True)
        code = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _hold_on)
        stack.close()
    _say("stopped" if code == 0 else "stopped after the error above")
    return code


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run everything locally with a live per-rep table (make demo)",
        description="Kafka (started if none answers), fresh topics, the worker, 12 months of"
        f" simulated history, a live stream at {LIVE_RATE} and the live report, until Ctrl-C."
        " RETAINED_MRR_WEB_PORT picks the metrics port; RETAINED_MRR_DEMO_DIR (default"
        " .cache/demo) holds worker.log, simulator.log and pids.",
    )
    parser.set_defaults(handler=run)
