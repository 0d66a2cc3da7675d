"""Renderers of a `Report`: rich tables for people, CSV and JSON for scripts. Pure."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from rich.console import Group
from rich.table import Table

from stream.report import Figures, Report, RepRow

__all__ = ["COLUMNS", "render_csv", "render_json", "render_tables", "rows"]

RATIO = Decimal("0.0001")
# Column name, whether it is a ratio; the same order in every format.
COLUMNS: tuple[tuple[str, bool], ...] = (
    ("new_mrr_month", False),
    ("quota_month", False),
    ("attainment", True),
    ("retained_mrr", False),
    ("new_mrr", False),
    ("retention", True),
    ("retention_90d", True),
    ("early_churn", True),
    ("scheduled_churn_mrr", False),
    ("retained_vs_quota", True),
)
HEADINGS = {
    "new_mrr_month": "new MRR {month}",
    "quota_month": "quota {month}",
    "attainment": "attainment",
    "retained_mrr": "retained MRR",
    "new_mrr": "new MRR",
    "retention": "retention",
    "retention_90d": "90-day retention",
    "early_churn": "early churn",
    "scheduled_churn_mrr": "scheduled churn",
    "retained_vs_quota": "retained ÷ quota",
}

REP_ONLY = frozenset({"quota_month", "attainment", "retained_vs_quota"})

Cell = Decimal | None


def _cells(figures: Figures) -> dict[str, Cell]:
    return {
        "new_mrr_month": figures.new_this_month,
        "retained_mrr": figures.retained,
        "new_mrr": figures.new,
        "retention": figures.retention,
        "retention_90d": figures.retention_90d,
        "early_churn": figures.early_churn,
        "scheduled_churn_mrr": figures.scheduled_churn,
    }


def _rep_cells(rep: RepRow) -> dict[str, Cell]:
    return _cells(rep.figures) | {
        "quota_month": rep.quota_this_month,
        "attainment": rep.attainment,
        "retained_vs_quota": rep.retained_vs_quota,
    }


def rows(report: Report) -> list[tuple[str, str, str, dict[str, Cell]]]:
    """(table, id, name, cells) per line; a lead source has no quota columns."""
    reps = [("rep", rep.rep_id, rep.rep_name, _rep_cells(rep)) for rep in report.reps]
    sources = [("lead_source", src.lead_source, "", _cells(src.figures)) for src in report.sources]
    return reps + sources


def _columns(cells: dict[str, Cell]) -> list[tuple[str, bool]]:
    return [(column, ratio) for column, ratio in COLUMNS if column in cells]


def _exact(cell: Cell, ratio: bool) -> str:
    if cell is None:
        return ""
    return str(cell.quantize(RATIO)) if ratio else str(cell)


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "id", "name", "month", *(name for name, _ in COLUMNS)])
    for table, key, name, cells in rows(report):
        exact = (_exact(cells.get(column), ratio) for column, ratio in COLUMNS)
        writer.writerow([table, key, name, report.month or "", *exact])
    return out.getvalue()


def _json_cell(cell: Cell, ratio: bool) -> str | float | None:
    # Money stays a decimal string (exact); ratios are plain numbers for scripts.
    if cell is None:
        return None
    return float(cell.quantize(RATIO)) if ratio else str(cell)


def render_json(report: Report) -> str:
    reps: list[dict[str, object]] = []
    sources: list[dict[str, object]] = []
    for table, key, name, cells in rows(report):
        values = {column: _json_cell(cells[column], ratio) for column, ratio in _columns(cells)}
        if table == "rep":
            reps.append({"rep_id": key, "rep_name": name, **values})
        else:
            sources.append({"lead_source": key, **values})
    document = {"month": report.month, "reps": reps, "lead_sources": sources}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _display(cell: Cell, ratio: bool) -> str:
    if cell is None:
        return "—"
    return f"{cell * 100:.1f} %" if ratio else f"{cell:,.0f}"


def render_tables(report: Report) -> Group:
    month = report.month or "this month"
    tables = {
        "rep": Table(title="Retained MRR by rep", title_justify="left"),
        "lead_source": Table(title="Retained MRR by lead source", title_justify="left"),
    }
    for kind, table in tables.items():
        table.add_column("rep" if kind == "rep" else "lead source")
        for column, _ in COLUMNS:
            if kind == "rep" or column not in REP_ONLY:
                table.add_column(HEADINGS[column].format(month=month), justify="right")
    for kind, key, name, cells in rows(report):
        label = f"{key} ({name})" if name and name != key else key
        shown = (_display(cells[column], ratio) for column, ratio in _columns(cells))
        tables[kind].add_row(label, *shown)
    return Group(*tables.values())
