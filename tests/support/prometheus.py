"""Test helpers for the real Prometheus: the metric catalogue, rule and dashboard
readers, and a harness that runs the `prometheus` binary against live targets."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
DASHBOARDS_DIR = ROOT / "grafana" / "dashboards"
JOB = "retained-mrr"

_BUSINESS_GAUGES = (
    "sales_new_mrr",
    "sales_deals_won",
    "sales_retained_mrr",
    "sales_deals_retained",
    "sales_scheduled_churn_mrr",
    "sales_churned_mrr",
    "sales_deals_churned",
    "sales_survival_base_mrr",
    "sales_survival_retained_mrr",
    "sales_quota_mrr",
    "sales_cohort_age_months",
    "sales_rep_info",
)
_HEALTH_GAUGES = ("sales_cancellations_pending", "sales_last_event_timestamp_seconds")
_HEALTH_COUNTERS = (
    "sales_events_consumed",
    "sales_events_applied",
    "sales_events_duplicate",
    "sales_events_rejected",
    "sales_events_clamped",
    "sales_events_rekeyed",
)
_HEALTH_HISTOGRAMS = ("sales_processing_delay_seconds",)
# The series Prometheus itself attaches to every scrape that the rules use.
_SCRAPE_SERIES = ("up",)


def _faust_series() -> set[str]:
    """Sample names of Faust's Prometheus sensor with the worker's fixed `faust` prefix,
    read from Faust itself so an upgrade that renames one is caught."""
    registry = CollectorRegistry()
    FaustMetrics.create(registry, "faust")
    names: set[str] = set()
    for family in registry.collect():
        names |= _series_of(family.type, family.name)
    return names


def _series_of(kind: str, family: str) -> set[str]:
    if kind == "counter":
        return {f"{family}_total"}
    if kind == "histogram":
        return {f"{family}_bucket", f"{family}_sum", f"{family}_count"}
    return {family}


@functools.cache
def exported_series() -> frozenset[str]:
    """Every sample name a worker's /metrics exposes (SPEC section 4) plus scrape series."""
    names = set(_BUSINESS_GAUGES) | set(_HEALTH_GAUGES) | set(_SCRAPE_SERIES)
    for counter in _HEALTH_COUNTERS:
        names |= _series_of("counter", counter)
    for histogram in _HEALTH_HISTOGRAMS:
        names |= _series_of("histogram", histogram)
    return frozenset(names | _faust_series())


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
# An identifier not glued to a number (1e3, 5m) and not called like a function.
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "atan2"}
)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: what is left once strings, label
    matchers, ranges, grouping label lists, function calls and keywords are removed."""
    text = _STRINGS.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def rules() -> Iterator[dict[str, Any]]:
    """Every recording and alerting rule of every rule file, with its group's name."""
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                yield {"group": group["name"], **rule}


@functools.cache
def recorded_series() -> frozenset[str]:
    return frozenset(rule["record"] for rule in rules() if "record" in rule)


def dashboards() -> dict[Path, dict[str, Any]]:
    return {path: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


# Values a dashboard query gets when run outside Grafana: multi-value variables match
# everything, interval macros get values that suit a 1s-scrape test Prometheus.
_VARIABLE_VALUES = {
    "rep": ".*",
    "lead_source": ".*",
    "topic": ".*",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(expr: str) -> str:
    """Replace Grafana variables as Grafana would with every value selected."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in _VARIABLE_VALUES:
            raise ValueError(f"unknown dashboard variable ${name} in {expr!r}")
        return _VARIABLE_VALUES[name]

    return _VARIABLE.sub(value, expr)


@dataclass(frozen=True)
class DashboardQuery:
    dashboard_uid: str
    panel_title: str
    ref_id: str
    expr: str


def dashboard_queries() -> Iterator[DashboardQuery]:
    """Every panel expression of every dashboard, variables substituted."""
    for dashboard in dashboards().values():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                yield DashboardQuery(
                    dashboard_uid=dashboard["uid"],
                    panel_title=panel["title"],
                    ref_id=target["refId"],
                    expr=substitute(target["expr"]),
                )


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class PrometheusServer:
    """A running `prometheus` process and its HTTP API."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self._process = process
        self._log = log

    def api(self, path: str, **params: str) -> Any:
        """GET an HTTP API endpoint (`/api/v1/...`) and return its `data`."""
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                body = json.load(reply)
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{path} {params} failed: {error.read().decode()}") from None
        if body["status"] != "success":
            raise AssertionError(f"{path} {params} failed: {body}")
        return body["data"]

    def query(self, expr: str) -> list[Sample]:
        """Instant query at the current time: vector samples, or one scalar sample."""
        data = self.api("/api/v1/query", query=expr)
        if data["resultType"] == "vector":
            return [Sample(item["metric"], float(item["value"][1])) for item in data["result"]]
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        raise AssertionError(f"query {expr!r} returned a {data['resultType']}, not a vector")

    def wait_for(
        self, expr: str, predicate: Callable[[list[Sample]], bool], timeout: float = 30.0
    ) -> list[Sample]:
        """Poll `expr` until `predicate` holds on its samples; fail with the last ones."""
        deadline = time.monotonic() + timeout
        samples = self.query(expr)
        while not predicate(samples):
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr!r} never satisfied the predicate; last: {samples}")
            self._check_running()
            time.sleep(0.5)
            samples = self.query(expr)
        return samples

    def wait_for_rule_evaluations(self, timeout: float = 30.0) -> None:
        """Wait until every rule group has evaluated since this call, so recorded series
        reflect every sample a query could see when it was made."""
        since = datetime.now(UTC)
        deadline = time.monotonic() + timeout
        while stale := [
            group["name"]
            for group in self.api("/api/v1/rules")["groups"]
            if datetime.fromisoformat(group["lastEvaluation"]) <= since
        ]:
            if time.monotonic() > deadline:
                raise AssertionError(f"rule groups not evaluated within {timeout}s: {stale}")
            self._check_running()
            time.sleep(0.5)

    def _check_running(self) -> None:
        if self._process.poll() is not None:
            raise AssertionError(f"prometheus exited {self._process.returncode}:\n{self.log()}")

    def log(self) -> str:
        return self._log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._answers_ready():
            self._check_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"prometheus not ready after {timeout}s:\n{self.log()}")
            time.sleep(0.2)

    def _answers_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False


def write_config(path: Path, targets: list[str], rule_dir: Path) -> None:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rule_dir / "*.yml")],
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": targets}]}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@contextmanager
def run_prometheus(
    tmp_path: Path, targets: list[str], rule_dir: Path = RULES_DIR, port: int | None = None
) -> Iterator[PrometheusServer]:
    """Run the real `prometheus` scraping `targets` as job `retained-mrr` every second
    with the project's rules; yields once it is ready and stops it on exit. Pass `port`
    (from `free_port()`) when a target must know it in advance, e.g. Prometheus itself."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise AssertionError("prometheus is not installed: run scripts/ensure-prometheus")
    port = port or free_port()
    config = tmp_path / "prometheus.yml"
    write_config(config, targets, rule_dir)
    log = tmp_path / "prometheus.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, log)
    try:
        server.wait_ready()
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
