"""`retained-mrr report`: fetch `/metrics` from every worker, print the report."""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from stream.report import Report, build_report
from stream.report_render import render_csv, render_json, render_tables

if TYPE_CHECKING:
    from stream.cli import Subparsers

__all__ = ["FetchError", "fetch_families", "register", "watch"]

DEFAULT_URL = "http://localhost:6066/metrics"


class FetchError(RuntimeError):
    """A worker's /metrics did not answer or did not parse; the message names the URL."""


def fetch_families(url: str, timeout_s: float = 5.0) -> list[Metric]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            text = response.read().decode("utf-8")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FetchError(f"{url} does not answer ({reason}); is the worker running?") from None
    try:
        return list(text_string_to_metric_families(text))
    except ValueError as error:
        raise FetchError(f"{url} is not Prometheus text format: {error}") from None


def fetch_report(urls: Sequence[str], month: str | None, timeout_s: float) -> Report:
    return build_report([fetch_families(url, timeout_s) for url in urls], month)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _month(text: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"{text} is not a month; write YYYY-MM, e.g. 2026-01")
    return text


def _metrics_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{text} needs its scheme, e.g. http://{text}")
    return text


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="print retained MRR per rep and lead source from the workers' /metrics",
        description="Sums every worker's /metrics (SPEC section 4) into a per-rep and a "
        "per-lead-source table.",
    )
    parser.add_argument(
        "--metrics-url",
        action="append",
        dest="urls",
        metavar="URL",
        type=_metrics_url,
        help=f"a worker's /metrics; repeat for each worker (default {DEFAULT_URL})",
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument(
        "--month", type=_month, help="cohort YYYY-MM of the month columns (default: current)"
    )
    parser.add_argument(
        "--watch", type=_seconds, metavar="SECONDS", help="redraw the tables until Ctrl-C"
    )
    parser.add_argument("--timeout", type=_seconds, default=5.0, help="seconds per fetch")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    urls = args.urls or [DEFAULT_URL]
    if args.watch:
        if args.format != "table":
            print("error: --watch redraws tables; drop --format to use it", file=sys.stderr)
            return 2
        return watch(urls, args.watch, args.month, args.timeout)
    try:
        report = fetch_report(urls, args.month, args.timeout)
    except FetchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.format == "csv":
        sys.stdout.write(render_csv(report))
    elif args.format == "json":
        sys.stdout.write(render_json(report))
    else:
        Console().print(render_tables(report))
    return 0


def _screen(urls: Sequence[str], month: str | None, timeout_s: float) -> Group:
    stamp = Text(f"{time.strftime('%H:%M:%S')}  {', '.join(urls)}", style="dim")
    try:
        return Group(render_tables(fetch_report(urls, month, timeout_s)), stamp)
    except FetchError as error:
        # A worker restarting is normal during a watch; say so and try again.
        return Group(Text(f"error: {error}", style="red"), stamp)


def watch(
    urls: Sequence[str], every_s: float, month: str | None = None, timeout_s: float = 5.0
) -> int:
    """Redraw the tables every `every_s` seconds until Ctrl-C."""
    try:
        with Live(_screen(urls, month, timeout_s), auto_refresh=False) as live:
            while True:
                time.sleep(every_s)
                live.update(_screen(urls, month, timeout_s), refresh=True)
    except KeyboardInterrupt:
        return 0
