"""The business series of SPEC section 4 and the `/metrics` text.

Every scrape takes a fresh snapshot of the aggregates of the partitions this worker
actively owns, so series of moved or aged-out deals vanish at the next scrape. The
snapshot is taken where the core lives (the event loop); turning it into text, most
of a scrape's cost, only reads the snapshot and can run in another thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from prometheus_client import utils
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from stream.core.aggregates import Aggregates, Snapshot

DEAL_LABELS = ["rep_id", "lead_source", "cohort"]
Family = tuple[str, str, list[str], Mapping[Any, Decimal | int]]
# The float format of the exposition (untyped upstream).
_go_float: Callable[[object], str] = utils.floatToGoString

# (family, help, labels, snapshot field); every value is additive across workers.
BUSINESS_FAMILIES: tuple[tuple[str, str, list[str], str], ...] = (
    ("sales_new_mrr", "MRR at close of deals closed in the cohort", DEAL_LABELS, "new_mrr"),
    ("sales_deals_won", "Deals closed in the cohort", DEAL_LABELS, "deals_won"),
    (
        "sales_retained_mrr",
        "MRR of the cohort's deals not churned as of now",
        DEAL_LABELS,
        "retained_mrr",
    ),
    ("sales_deals_retained", "Deals of the cohort not churned", DEAL_LABELS, "deals_retained"),
    (
        "sales_scheduled_churn_mrr",
        "MRR of retained deals with a cancellation taking effect later",
        DEAL_LABELS,
        "scheduled_churn_mrr",
    ),
    (
        "sales_churned_mrr",
        "MRR of the cohort's deals churned as of now, by tenure at churn",
        [*DEAL_LABELS, "tenure"],
        "churned_mrr",
    ),
    (
        "sales_deals_churned",
        "Deals of the cohort churned as of now, by tenure at churn",
        [*DEAL_LABELS, "tenure"],
        "deals_churned",
    ),
    (
        "sales_survival_base_mrr",
        "MRR of deals old enough to tell whether they survived the horizon",
        [*DEAL_LABELS, "horizon"],
        "survival_base_mrr",
    ),
    (
        "sales_survival_retained_mrr",
        "MRR of base deals with no churn before close + horizon",
        [*DEAL_LABELS, "horizon"],
        "survival_retained_mrr",
    ),
)


def _gauge(
    name: str, documentation: str, labels: list[str], values: Mapping[Any, Decimal | int]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label_values, value in values.items():
        family.add_metric(list(label_values), float(value))
    return family


class RetentionCollector(Collector):
    """The business series of one scrape: snapshots of the deal and quota aggregates of
    the worker's active partitions, and its pending cancellations."""

    def __init__(self, deals: Snapshot, quotas: Snapshot, pending: int) -> None:
        self._deals = deals
        self._quotas = quotas
        self._pending = pending

    @classmethod
    def now(cls, deals: Aggregates, quotas: Aggregates) -> RetentionCollector:
        """Snapshot the aggregates as of their clock; call it where they are updated."""
        of_deals = deals.snapshot()
        # SPEC 3.10 exports later months that hold deals, their quotas included.
        of_quotas = quotas.snapshot(cohorts=of_deals.cohort_age_months)
        return cls(of_deals, of_quotas, deals.pending())

    def families(self) -> Iterator[Family]:
        """(name, help, label names, values by label values) of every gauge family."""
        deals = self._deals
        quotas = self._quotas
        for name, documentation, labels, field in BUSINESS_FAMILIES:
            yield name, documentation, labels, getattr(deals, field)
        yield (
            "sales_quota_mrr",
            "New MRR the rep should close in the month (base currency)",
            ["rep_id", "cohort"],
            quotas.quota_mrr,
        )
        ages: dict[tuple[str], int] = {(c,): a for c, a in quotas.cohort_age_months.items()}
        ages.update({(c,): a for c, a in deals.cohort_age_months.items()})
        yield (
            "sales_cohort_age_months",
            "Months between the cohort and the current month (0 = current); aggregate with max",
            ["cohort"],
            ages,
        )
        yield (
            "sales_rep_info",
            "Rep display name; value 1, aggregate with max",
            ["rep_id", "rep_name"],
            dict.fromkeys(deals.rep_names.items(), 1),
        )
        yield (
            "sales_cancellations_pending",
            "Cancellations waiting for their deal_won",
            [],
            {(): self._pending},
        )

    def collect(self) -> Iterator[Metric]:
        for family in self.families():
            yield _gauge(*family)


def render(business: RetentionCollector) -> bytes:
    """The text `generate_latest` makes of `business`, byte for byte (a test holds it
    to that), in about a fifth of the time: prometheus_client builds a sample object
    and escapes generically for each of the 100k+ samples of a large fleet. It reads
    only the snapshots, never the live core, so any thread may call it."""
    out: list[str] = []
    for name, documentation, labels, values in business.families():
        text = documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {text}\n# TYPE {name} gauge\n")
        order = sorted(range(len(labels)), key=labels.__getitem__)
        names = [(labels[i], i) for i in order]
        for key, value in values.items():
            if names:
                pairs = ",".join(f'{label}="{_escape(key[i])}"' for label, i in names)
                out.append(f"{name}{{{pairs}}} {_go_float(value)}\n")
            else:
                out.append(f"{name} {_go_float(value)}\n")
    return "".join(out).encode()


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
