"""Per-rep and per-lead-source figures from workers' `/metrics` (issue 6 item 3).

Pure: takes parsed metric families, one iterable per worker, and aggregates them
as SPEC section 4 says (sum for business gauges, max for cohort age and rep info).
Fetching lives in `stream.report_cli`, rendering in `stream.report_render`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal

from prometheus_client.metrics_core import Metric

__all__ = ["Figures", "RepRow", "Report", "SourceRow", "build_report", "merge"]

CENT = Decimal("0.01")
MAX_FAMILIES = frozenset({"sales_cohort_age_months", "sales_rep_info"})
EARLY_TENURES = frozenset({"0-30d", "31-90d"})
HORIZON = "90d"
BUSINESS_FAMILIES = frozenset(
    {
        "sales_new_mrr",
        "sales_retained_mrr",
        "sales_scheduled_churn_mrr",
        "sales_churned_mrr",
        "sales_survival_base_mrr",
        "sales_survival_retained_mrr",
        "sales_quota_mrr",
    }
)

SeriesKey = tuple[str, frozenset[tuple[str, str]]]


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return numerator / denominator if denominator else None


@dataclass
class Figures:
    """Money in the base currency; ratios are None where the denominator is zero."""

    new_this_month: Decimal = Decimal(0)
    retained: Decimal = Decimal(0)
    new: Decimal = Decimal(0)
    early_churned: Decimal = Decimal(0)
    scheduled_churn: Decimal = Decimal(0)
    survival_base_90d: Decimal = Decimal(0)
    survival_retained_90d: Decimal = Decimal(0)

    @property
    def retention(self) -> Decimal | None:
        return _ratio(self.retained, self.new)

    @property
    def retention_90d(self) -> Decimal | None:
        return _ratio(self.survival_retained_90d, self.survival_base_90d)

    @property
    def early_churn(self) -> Decimal | None:
        return _ratio(self.early_churned, self.new)

    def rounded(self) -> Figures:
        return Figures(*(getattr(self, item.name).quantize(CENT) for item in fields(self)))


@dataclass
class RepRow:
    rep_id: str
    rep_name: str = ""
    quota_this_month: Decimal = Decimal(0)
    quota: Decimal = Decimal(0)  # over every exported cohort
    figures: Figures = field(default_factory=Figures)

    @property
    def attainment(self) -> Decimal | None:
        return _ratio(self.figures.new_this_month, self.quota_this_month)

    @property
    def retained_vs_quota(self) -> Decimal | None:
        return _ratio(self.figures.retained, self.quota)


@dataclass
class SourceRow:
    lead_source: str
    figures: Figures = field(default_factory=Figures)


@dataclass(frozen=True)
class Report:
    month: str | None  # the cohort of the "this month" columns
    reps: tuple[RepRow, ...]
    sources: tuple[SourceRow, ...]


def merge(families_per_url: Iterable[Iterable[Metric]]) -> dict[SeriesKey, Decimal]:
    """Fleet value of every series: the sum over workers, or the max where SPEC says so."""
    merged: dict[SeriesKey, Decimal] = {}
    for families in families_per_url:
        for family in families:
            if family.name not in BUSINESS_FAMILIES | MAX_FAMILIES:
                continue
            for sample in family.samples:
                if sample.name != family.name:
                    continue
                key = (family.name, frozenset(sample.labels.items()))
                # repr() of the float is its shortest exact text, so cents stay cents.
                value = Decimal(repr(sample.value))
                if key not in merged:
                    merged[key] = value
                elif family.name in MAX_FAMILIES:
                    merged[key] = max(merged[key], value)
                else:
                    merged[key] += value
    return merged


def _current_month(merged: Mapping[SeriesKey, Decimal]) -> str | None:
    return next(
        (
            dict(labels)["cohort"]
            for (name, labels), value in merged.items()
            if name == "sales_cohort_age_months" and value == 0
        ),
        None,
    )


def _add(
    figures: Figures, name: str, labels: Mapping[str, str], value: Decimal, month: str | None
) -> None:
    if name == "sales_new_mrr":
        figures.new += value
        if labels.get("cohort") == month:
            figures.new_this_month += value
    elif name == "sales_retained_mrr":
        figures.retained += value
    elif name == "sales_scheduled_churn_mrr":
        figures.scheduled_churn += value
    elif name == "sales_churned_mrr" and labels.get("tenure") in EARLY_TENURES:
        figures.early_churned += value
    elif name == "sales_survival_base_mrr" and labels.get("horizon") == HORIZON:
        figures.survival_base_90d += value
    elif name == "sales_survival_retained_mrr" and labels.get("horizon") == HORIZON:
        figures.survival_retained_90d += value


def build_report(families_per_url: Iterable[Iterable[Metric]], month: str | None = None) -> Report:
    """`month` (YYYY-MM) picks the cohort of the "this month" columns; by default the
    cohort the workers call age 0."""
    merged = merge(families_per_url)
    month = month or _current_month(merged)
    reps: dict[str, RepRow] = defaultdict(lambda: RepRow(""))
    sources: dict[str, SourceRow] = defaultdict(lambda: SourceRow(""))
    for (name, label_set), value in merged.items():
        labels = dict(label_set)
        rep_id = labels.get("rep_id")
        if name == "sales_rep_info" and rep_id is not None:
            reps[rep_id].rep_name = labels.get("rep_name", "")
        elif name == "sales_quota_mrr" and rep_id is not None:
            reps[rep_id].quota += value
            if labels.get("cohort") == month:
                reps[rep_id].quota_this_month += value
        elif name in BUSINESS_FAMILIES and rep_id is not None:
            _add(reps[rep_id].figures, name, labels, value, month)
            _add(sources[labels.get("lead_source", "unknown")].figures, name, labels, value, month)
    return Report(
        month=month,
        reps=tuple(
            RepRow(
                rep_id,
                row.rep_name,
                row.quota_this_month.quantize(CENT),
                row.quota.quantize(CENT),
                row.figures.rounded(),
            )
            for rep_id, row in sorted(reps.items())
        ),
        sources=tuple(
            SourceRow(source, row.figures.rounded()) for source, row in sorted(sources.items())
        ),
    )
