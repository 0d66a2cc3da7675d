"""Dashboard lint: structure, variables, metric names, and every query run against a
real Prometheus that loads the project's rules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.net import free_port
from tests.support.prometheus import (
    DASHBOARDS_DIR,
    ROOT,
    DashboardQuery,
    PrometheusServer,
    dashboard_queries,
    dashboards,
    exported_series,
    metric_names,
    panels,
    recorded_series,
    run_prometheus,
)

BOARDS = dashboards()
PANELS = [
    pytest.param(board, panel, id=f"{board['uid']}/{panel['id']}")
    for board in BOARDS.values()
    for panel in panels(board)
]
QUERIES = list(dashboard_queries())
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in board["templating"]["list"]}


def raw_expressions(board: dict[str, Any]) -> Iterator[str]:
    for panel in panels(board):
        for target in panel["targets"]:
            yield target["expr"]


@pytest.mark.parametrize("path", sorted(DASHBOARDS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_dashboard_is_valid_json_object(path: Path) -> None:
    assert isinstance(json.loads(path.read_text()), dict)


def test_dashboards_have_stable_unique_uids_and_mrr_titles() -> None:
    uids = [board["uid"] for board in BOARDS.values()]
    assert len(uids) == len(set(uids))
    assert {"mrr-sales-retention", "mrr-pipeline-health"} <= set(uids)
    for board in BOARDS.values():
        assert board["title"].startswith("MRR / "), board["title"]
        assert "id" not in board, "a fixed id collides across Grafana instances; the uid is enough"


def test_dashboards_are_listed_in_the_readme() -> None:
    readme = (DASHBOARDS_DIR / "README.md").read_text()
    for path, board in BOARDS.items():
        assert f"`{path.name}`" in readme and f"`{board['uid']}`" in readme


@pytest.mark.parametrize("board", BOARDS.values(), ids=lambda board: board["uid"])
def test_panel_ids_are_unique_and_panels_do_not_overlap(board: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in panels(board):
        grid = panel["gridPos"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert not cells & area, f"{panel['title']} overlaps another panel"
        cells |= area


@pytest.mark.parametrize(("board", "panel"), PANELS)
def test_panel_has_datasource_query_description_and_unit(
    board: dict[str, Any], panel: dict[str, Any]
) -> None:
    assert panel["datasource"] == DATASOURCE
    assert panel["targets"], "no query"
    for target in panel["targets"]:
        assert target["datasource"] == DATASOURCE
        assert target["expr"].strip()
    ref_ids = [target["refId"] for target in panel["targets"]]
    assert len(ref_ids) == len(set(ref_ids))
    assert panel["description"].strip()
    assert panel["fieldConfig"]["defaults"]["unit"]


@pytest.mark.parametrize("board", BOARDS.values(), ids=lambda board: board["uid"])
def test_datasource_variable(board: dict[str, Any]) -> None:
    datasource = variables(board)["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    assert datasource["label"] == "Data source"


def test_sales_board_filters_by_rep_and_lead_source() -> None:
    board = next(board for board in BOARDS.values() if board["uid"] == "mrr-sales-retention")
    for name in ("rep", "lead_source"):
        variable = variables(board)[name]
        assert variable["multi"] and variable["includeAll"] and variable["allValue"] == ".*"
    expressions = list(raw_expressions(board))
    assert any('rep_id=~"$rep"' in expr for expr in expressions)
    assert any('lead_source=~"$lead_source"' in expr for expr in expressions)


@pytest.mark.parametrize("board", BOARDS.values(), ids=lambda board: board["uid"])
def test_query_variables_use_label_values(board: dict[str, Any]) -> None:
    for variable in variables(board).values():
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"]
        match = re.fullmatch(r"label_values\((\w+), (\w+)\)", query)
        assert match, f"${variable['name']}: {query!r} is not label_values(metric, label)"
        assert match.group(1) in exported_series()
        assert variable["definition"] == query
        # Refresh on time-range change, so reps who start closing deals appear.
        assert variable["refresh"] == 2


@pytest.mark.parametrize("board", BOARDS.values(), ids=lambda board: board["uid"])
def test_range_selectors_use_rate_interval(board: dict[str, Any]) -> None:
    # $__range only for a total over the whole time range, as a stat shows it.
    for expr in raw_expressions(board):
        for window in re.findall(r"\[([^\]]*)\]", expr):
            assert window in ("$__rate_interval", "$__range"), f"[{window}] in {expr!r}"


@pytest.mark.parametrize(
    "query", QUERIES, ids=lambda q: f"{q.dashboard_uid}/{q.panel_title}/{q.ref_id}"
)
def test_query_selects_only_exported_or_recorded_series(query: DashboardQuery) -> None:
    unknown = metric_names(query.expr) - exported_series() - recorded_series()
    assert not unknown, f"not exported by the worker nor recorded: {sorted(unknown)}"


def test_sales_board_has_the_retention_views() -> None:
    board = next(board for board in BOARDS.values() if board["uid"] == "mrr-sales-retention")
    selected = set().union(*(metric_names(expr) for expr in raw_expressions(board)))
    assert {
        "rep_id:sales_quota_attainment:ratio",
        "sales_retained_mrr",
        "sales_churned_mrr",
        "sales_scheduled_churn_mrr",
        "rep_id_horizon:sales_survival:ratio",
        "rep_id:sales_early_churn:ratio",
        "lead_source:sales_retention:ratio",
        "rep_id_cohort:sales_retention:ratio",
        "rep_id_cohort:sales_retention_adjusted_attainment:ratio",
    } <= selected
    [stacked] = [panel for panel in panels(board) if panel["type"] == "barchart"]
    assert stacked["options"]["stacking"] == "normal"
    assert [metric_names(target["expr"]) for target in stacked["targets"]] == [
        {"sales_retained_mrr"},
        {"sales_churned_mrr"},
    ]


def test_provisioning_points_at_the_dashboards_and_a_fixed_datasource_uid() -> None:
    provisioning = ROOT / "grafana" / "provisioning"
    [datasource] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasource["uid"] == "prometheus"
    assert datasource["type"] == "prometheus"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "retained-mrr.yml").read_text())[
        "providers"
    ]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    port = free_port()
    with run_prometheus(
        tmp_path_factory.mktemp("prometheus"), [f"127.0.0.1:{port}"], port=port
    ) as server:
        yield server


@pytest.mark.prometheus
@pytest.mark.parametrize(
    "query", QUERIES, ids=lambda q: f"{q.dashboard_uid}/{q.panel_title}/{q.ref_id}"
)
def test_query_runs_on_real_prometheus(prometheus: PrometheusServer, query: DashboardQuery) -> None:
    # No worker here, so most results are empty; a parse or type error fails the query.
    assert isinstance(prometheus.query(query.expr), list)
