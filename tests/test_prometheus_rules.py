"""Recording and alert rules: promtool checks and unit tests, naming and annotation
conventions, documented thresholds, and the rules loaded by a real Prometheus."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.prometheus import (
    JOB,
    PROMETHEUS_DIR,
    ROOT,
    RULE_TESTS_DIR,
    exported_series,
    free_port,
    metric_names,
    recorded_series,
    rule_files,
    rules,
    run_prometheus,
)

DOCS = ROOT / "docs"
RULE_TESTS = sorted(RULE_TESTS_DIR.glob("*.test.yml"))
ALERTS = [rule for rule in rules() if "alert" in rule]
RECORDS = [rule for rule in rules() if "record" in rule]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is not installed: run scripts/ensure-prometheus"
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"


@pytest.mark.prometheus
@pytest.mark.parametrize("path", rule_files(), ids=lambda path: path.name)
def test_rule_file_passes_promtool_check(path: Path) -> None:
    assert_ok(promtool("check", "rules", str(path)))


@pytest.mark.prometheus
@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda path: path.name)
def test_rule_unit_tests_pass(path: Path) -> None:
    assert_ok(promtool("test", "rules", str(path)))


@pytest.mark.prometheus
def test_compose_config_passes_promtool_check(tmp_path: Path) -> None:
    # Compose mounts the rules at /etc/prometheus/rules; point a copy at the repo's.
    config = (PROMETHEUS_DIR / "prometheus.yml").read_text()
    assert "/etc/prometheus/rules/*.yml" in config
    copy = tmp_path / "prometheus.yml"
    copy.write_text(config.replace("/etc/prometheus/rules", str(PROMETHEUS_DIR / "rules")))
    result = promtool("check", "config", str(copy))
    assert_ok(result)
    assert f"SUCCESS: {len(rule_files())} rule files found" in result.stdout


def test_compose_config_scrapes_the_worker_every_5s() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert config["global"]["scrape_interval"] == "5s"
    [job] = config["scrape_configs"]
    assert job["job_name"] == JOB
    assert job["static_configs"] == [{"targets": ["worker:6066"]}]


def _unit_tests() -> list[dict[str, Any]]:
    return [test for path in RULE_TESTS for test in yaml.safe_load(path.read_text())["tests"]]


def test_every_rule_file_is_loaded_by_a_unit_test() -> None:
    loaded = {
        (RULE_TESTS_DIR / name).resolve()
        for path in RULE_TESTS
        for name in yaml.safe_load(path.read_text())["rule_files"]
    }
    assert {path.resolve() for path in rule_files()} <= loaded


@pytest.mark.parametrize("alert", [rule["alert"] for rule in ALERTS])
def test_every_alert_has_a_firing_and_a_quiet_case(alert: str) -> None:
    cases = [
        case
        for test in _unit_tests()
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == alert
    ]
    assert any(case.get("exp_alerts") for case in cases), f"{alert} never fires in a test"
    assert any(not case.get("exp_alerts") for case in cases), f"{alert} is never quiet in a test"


@pytest.mark.parametrize("rule", ALERTS, ids=lambda rule: rule["alert"])
def test_alert_is_named_labelled_and_annotated(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"(Sales|RetainedMrr)[A-Z][A-Za-z]+", rule["alert"])
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    # The description names who is affected and the value, not just the symptom.
    assert re.search(
        r"\$labels\.(rep_id|lead_source|job|instance)", annotations["description"]
    ) or ("absent(" in rule["expr"])
    assert annotations["runbook_url"] == f"docs/runbooks.md#{rule['alert'].lower()}"


def _github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub derives from headings: lower case, punctuation dropped, spaces to -."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_runbook_anchor_exists() -> None:
    anchors = _github_anchors((DOCS / "runbooks.md").read_text())
    for rule in ALERTS:
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (ROOT / path).is_file(), path
        assert anchor in anchors, f"{rule['alert']}: no heading for #{anchor} in {path}"


@pytest.mark.parametrize("rule", RECORDS, ids=lambda rule: rule["record"])
def test_recording_rule_follows_level_metric_operations(rule: dict[str, Any]) -> None:
    level, metric, operations = rule["record"].split(":")
    assert level and metric and operations, rule["record"]
    assert re.fullmatch(r"sales-[a-z-]+\.rules", rule["group"]), rule["group"]
    # Ratios are sum over sum, computed here only; an average of ratios is wrong.
    assert "avg" not in rule["expr"]


def test_alert_groups_are_not_recording_groups() -> None:
    for rule in ALERTS:
        assert re.fullmatch(r"sales-[a-z-]+", rule["group"]), rule["group"]


@pytest.mark.parametrize("rule", [*RECORDS, *ALERTS], ids=lambda r: r.get("record", r.get("alert")))
def test_rule_selects_only_exported_or_recorded_series(rule: dict[str, Any]) -> None:
    unknown = metric_names(rule["expr"]) - exported_series() - recorded_series()
    assert not unknown, f"not exported by the worker nor recorded: {sorted(unknown)}"


def test_metric_names_sees_through_labels_ranges_and_functions() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, topic) (rate(x_bucket{topic=~"a|b"}[5m])))'
        " / on (job) group_left () a:b:c offset 1w and bool 1e3 > time()"
    )
    assert metric_names(expr) == {"x_bucket", "a:b:c"}


def test_thresholds_are_documented_with_their_values() -> None:
    table = (DOCS / "alerts.md").read_text()
    thresholds = [rule for rule in RECORDS if rule["record"].startswith("sales:threshold_")]
    assert len(thresholds) >= 5
    for rule in thresholds:
        constant = re.fullmatch(r"vector\(([\d.]+)\)", rule["expr"])
        assert constant, f"{rule['record']} is not a constant"
        value = constant.group(1)
        row = re.search(rf"^\| `{re.escape(rule['record'])}` \| ([\d.]+) \|", table, re.MULTILINE)
        assert row, f"{rule['record']} is not in the table of docs/alerts.md"
        assert float(row.group(1)) == float(value), rule["record"]
    for rule in ALERTS:
        assert rule["alert"] in table, f"{rule['alert']} is not documented in docs/alerts.md"


@pytest.mark.prometheus
def test_real_prometheus_scrapes_itself_and_evaluates_every_rule(tmp_path: Path) -> None:
    port = free_port()
    with run_prometheus(tmp_path, [f"127.0.0.1:{port}"], port=port) as prometheus:
        [up] = prometheus.wait_for(f'up{{job="{JOB}"}}', lambda samples: len(samples) == 1)
        assert up.value == 1
        assert up.labels["instance"] == f"127.0.0.1:{port}"

        groups = {group for path in rule_files() for group in _group_names(path)}
        evaluated = prometheus.wait_for(
            "prometheus_rule_group_last_evaluation_timestamp_seconds > 0",
            lambda samples: len(samples) == len(groups),
        )
        assert {sample.labels["rule_group"].rpartition(";")[2] for sample in evaluated} == groups
        [loaded] = prometheus.query("sum(prometheus_rule_group_rules)")
        assert loaded.value == len(RECORDS) + len(ALERTS)
        [failures] = prometheus.query("sum(prometheus_rule_evaluation_failures_total)")
        assert failures.value == 0
        [threshold] = prometheus.query("sales:threshold_retention_90d:ratio")
        assert threshold.value == 0.8


def _group_names(path: Path) -> list[str]:
    return [group["name"] for group in yaml.safe_load(path.read_text())["groups"]]
