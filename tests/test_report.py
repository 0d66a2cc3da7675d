"""The report: aggregation across workers, the SPEC example's figures, every format, fetch."""

from __future__ import annotations

import argparse
import csv
import io
import json
import threading
from collections.abc import Iterator, Sequence
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from stream.report import build_report, merge
from stream.report_cli import FetchError, fetch_families, register
from stream.report_render import render_csv, render_json, render_tables

Series = tuple[str, dict[str, str], float]
COHORT_AGES = [
    ("sales_cohort_age_months", {"cohort": f"2026-{m:02d}"}, 7.0 - m) for m in range(1, 8)
]


class Exposition:
    """A worker's /metrics text, written by prometheus_client as the worker's is."""

    def __init__(self, series: Sequence[Series]) -> None:
        self._series = series

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for name, labels, value in self._series:
            if name not in families:
                families[name] = GaugeMetricFamily(name, name, labels=list(labels))
            families[name].add_metric(list(labels.values()), value)
        yield from families.values()

    def text(self) -> str:
        registry = CollectorRegistry()
        registry.register(self)
        return generate_latest(registry).decode()


def parsed(series: Sequence[Series]) -> list[Metric]:
    return list(text_string_to_metric_families(Exposition(series).text()))


def deal(rep: str, source: str, family: str, value: float, **extra: str) -> Series:
    labels = {"rep_id": rep, "lead_source": source, "cohort": "2026-01", **extra}
    return (f"sales_{family}", labels, value)


def spec_example_workers() -> list[list[Series]]:
    """SPEC section 7 as of 2026-07-01, the subscriptions spread over two workers."""
    juan_info = ("sales_rep_info", {"rep_id": "juan", "rep_name": "Juan"}, 1.0)
    miguel_info = ("sales_rep_info", {"rep_id": "miguel", "rep_name": "Miguel"}, 1.0)
    first = [
        *COHORT_AGES,
        juan_info,
        miguel_info,
        ("sales_quota_mrr", {"rep_id": "juan", "cohort": "2026-01"}, 90000.0),
        deal("juan", "outbound", "new_mrr", 60000),
        deal("juan", "outbound", "deals_won", 12),
        deal("juan", "outbound", "retained_mrr", 30000),
        deal("juan", "outbound", "churned_mrr", 30000, tenure="31-90d"),
        deal("juan", "outbound", "survival_base_mrr", 60000, horizon="90d"),
        deal("juan", "outbound", "survival_retained_mrr", 30000, horizon="90d"),
        deal("miguel", "referral", "new_mrr", 35000),
        deal("miguel", "referral", "retained_mrr", 35000),
        deal("miguel", "referral", "survival_base_mrr", 35000, horizon="90d"),
        deal("miguel", "referral", "survival_retained_mrr", 35000, horizon="90d"),
    ]
    second = [
        *COHORT_AGES,
        juan_info,
        ("sales_quota_mrr", {"rep_id": "miguel", "cohort": "2026-01"}, 90000.0),
        deal("juan", "outbound", "new_mrr", 40000),
        deal("juan", "outbound", "retained_mrr", 20000),
        deal("juan", "outbound", "churned_mrr", 20000, tenure="31-90d"),
        deal("juan", "outbound", "survival_base_mrr", 40000, horizon="90d"),
        deal("juan", "outbound", "survival_retained_mrr", 20000, horizon="90d"),
        deal("juan", "outbound", "survival_base_mrr", 0, horizon="365d"),
        deal("miguel", "referral", "new_mrr", 35000),
        deal("miguel", "referral", "retained_mrr", 30000),
        deal("miguel", "referral", "churned_mrr", 5000, tenure="91-180d"),
        deal("miguel", "referral", "survival_base_mrr", 35000, horizon="90d"),
        deal("miguel", "referral", "survival_retained_mrr", 35000, horizon="90d"),
    ]
    return [first, second]


def spec_families() -> list[list[Metric]]:
    return [parsed(worker) for worker in spec_example_workers()]


def test_merge_sums_business_series_and_takes_the_max_of_age_and_info() -> None:
    merged = merge(spec_families())

    def value(name: str, **labels: str) -> Decimal:
        return merged[name, frozenset(labels.items())]

    deal = {"rep_id": "juan", "lead_source": "outbound", "cohort": "2026-01"}
    assert value("sales_new_mrr", **deal) == 100000
    assert value("sales_churned_mrr", **deal, tenure="31-90d") == 50000
    assert value("sales_cohort_age_months", cohort="2026-01") == 6
    assert value("sales_cohort_age_months", cohort="2026-07") == 0
    assert value("sales_rep_info", rep_id="juan", rep_name="Juan") == 1
    assert value("sales_quota_mrr", rep_id="miguel", cohort="2026-01") == 90000
    assert not any(name == "sales_deals_won" for name, _ in merged)


def test_spec_example_figures() -> None:
    report = build_report(spec_families(), month="2026-01")
    juan, miguel = report.reps

    assert (juan.rep_id, juan.rep_name, miguel.rep_id, miguel.rep_name) == (
        "juan", "Juan", "miguel", "Miguel",
    )  # fmt: skip
    assert juan.figures.new_this_month == juan.figures.new == Decimal("100000.00")
    assert juan.quota_this_month == miguel.quota_this_month == Decimal("90000.00")
    assert juan.attainment is not None and miguel.attainment is not None
    assert round(juan.attainment * 100) == 111
    assert round(miguel.attainment * 100) == 78
    assert juan.figures.retention == Decimal("0.5")
    assert miguel.figures.retention is not None
    assert round(miguel.figures.retention * 1000) == 929
    assert juan.figures.retention_90d == Decimal("0.5")
    assert miguel.figures.retention_90d == 1
    assert juan.figures.early_churn == Decimal("0.5")
    assert miguel.figures.early_churn == 0
    assert juan.retained_vs_quota is not None and miguel.retained_vs_quota is not None
    assert (round(juan.retained_vs_quota * 100), round(miguel.retained_vs_quota * 100)) == (56, 72)
    assert [source.lead_source for source in report.sources] == ["outbound", "referral"]
    assert report.sources[1].figures.retained == Decimal("65000.00")


def test_month_defaults_to_the_cohort_of_age_zero() -> None:
    report = build_report(spec_families())

    assert report.month == "2026-07"
    assert all(rep.figures.new_this_month == 0 and rep.attainment is None for rep in report.reps)
    assert report.reps[0].figures.retained == Decimal("50000.00")


def test_csv_has_exact_figures() -> None:
    lines = list(csv.DictReader(io.StringIO(render_csv(build_report(spec_families(), "2026-01")))))

    assert [(line["table"], line["id"], line["name"]) for line in lines] == [
        ("rep", "juan", "Juan"),
        ("rep", "miguel", "Miguel"),
        ("lead_source", "outbound", ""),
        ("lead_source", "referral", ""),
    ]
    miguel = lines[1]
    assert miguel == miguel | {
        "month": "2026-01",
        "new_mrr_month": "70000.00",
        "quota_month": "90000.00",
        "attainment": "0.7778",
        "retained_mrr": "65000.00",
        "new_mrr": "70000.00",
        "retention": "0.9286",
        "retention_90d": "1.0000",
        "early_churn": "0.0000",
        "scheduled_churn_mrr": "0.00",
        "retained_vs_quota": "0.7222",
    }
    assert lines[2]["quota_month"] == lines[2]["attainment"] == ""


def test_json_has_exact_figures() -> None:
    document = json.loads(render_json(build_report(spec_families(), "2026-01")))

    juan = document["reps"][0]
    assert document["month"] == "2026-01"
    assert juan == {
        "rep_id": "juan",
        "rep_name": "Juan",
        "new_mrr_month": "100000.00",
        "quota_month": "90000.00",
        "attainment": 1.1111,
        "retained_mrr": "50000.00",
        "new_mrr": "100000.00",
        "retention": 0.5,
        "retention_90d": 0.5,
        "early_churn": 0.5,
        "scheduled_churn_mrr": "0.00",
        "retained_vs_quota": 0.5556,
    }
    assert document["lead_sources"][1] == {
        "lead_source": "referral",
        "new_mrr_month": "70000.00",
        "retained_mrr": "65000.00",
        "new_mrr": "70000.00",
        "retention": 0.9286,
        "retention_90d": 1.0,
        "early_churn": 0.0,
        "scheduled_churn_mrr": "0.00",
    }


def test_cents_and_scheduled_churn_add_up_exactly_across_workers() -> None:
    def worker(value: float) -> list[Metric]:
        families = ("new_mrr", "retained_mrr", "scheduled_churn_mrr")
        return parsed([deal("ana", "webinar", family, value) for family in families])

    report = build_report([worker(0.1), worker(0.2), worker(1234.57)])

    assert report.reps[0].figures.new == Decimal("1234.87")
    assert report.reps[0].figures.scheduled_churn == Decimal("1234.87")
    assert report.reps[0].figures.retention_90d is None
    assert report.month is None


def test_table_shows_percentages_and_dashes() -> None:
    console = Console(width=250, record=True)
    console.print(render_tables(build_report(spec_families(), "2026-01")))
    text = console.export_text()

    juan = next(line for line in text.splitlines() if "juan (Juan)" in line)
    assert "111.1 %" in juan and "100,000" in juan and "55.6 %" in juan
    miguel = next(line for line in text.splitlines() if "miguel (Miguel)" in line)
    assert "77.8 %" in miguel and "92.9 %" in miguel and "100.0 %" in miguel
    outbound = next(line for line in text.splitlines() if "outbound" in line)
    assert "—" not in juan and "50.0 %" in outbound
    assert "new MRR 2026-01" in text


class _Metrics(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def metrics_urls() -> Iterator[list[str]]:
    servers = []
    for worker in spec_example_workers():
        handler = type("Worker", (_Metrics,), {"body": Exposition(worker).text().encode()})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield [f"http://127.0.0.1:{server.server_address[1]}/metrics" for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def run_report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["report", *argv])
    code: int = args.handler(args)
    return code


def test_report_command_sums_two_live_workers(
    metrics_urls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [arg for url in metrics_urls for arg in ("--metrics-url", url)]

    assert run_report([*urls, "--month", "2026-01", "--format", "json"]) == 0

    document = json.loads(capsys.readouterr().out)
    assert [rep["retained_mrr"] for rep in document["reps"]] == ["50000.00", "65000.00"]
    assert [rep["attainment"] for rep in document["reps"]] == [1.1111, 0.7778]


def test_report_command_names_the_url_that_does_not_answer(
    metrics_urls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    dead = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.server_close()

    assert run_report(["--metrics-url", metrics_urls[0], "--metrics-url", dead]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert dead in captured.err and "does not answer" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--watch", "-1"], "argument --watch: -1 is not a positive number of seconds"),
        (["--timeout", "soon"], "argument --timeout: soon is not a positive number of seconds"),
        (
            ["--month", "2026-1"],
            "argument --month: 2026-1 is not a month; write YYYY-MM, e.g. 2026-01",
        ),
        (
            ["--metrics-url", "localhost:6066/metrics"],
            "argument --metrics-url: localhost:6066/metrics needs its scheme,"
            " e.g. http://localhost:6066/metrics",
        ),
    ],
)
def test_report_options_are_checked_before_anything_runs(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_report(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f" error: {message}")


def test_watch_draws_tables_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_report(["--watch", "2", "--format", "json"]) == 2
    assert capsys.readouterr().err == "error: --watch redraws tables; drop --format to use it\n"


def test_a_page_that_is_not_prometheus_text_is_named() -> None:
    url = "data:text/plain,sales_new_mrr%7Brep_id%3D%22juan%22 abc"
    with pytest.raises(FetchError) as raised:
        fetch_families(url)
    assert str(raised.value).startswith(f"{url} is not Prometheus text format: ")
