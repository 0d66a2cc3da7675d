"""A deal's contribution to the business series, as timed deltas (SPEC 3.5-3.8).

At the close (immediately): new, won, retained (+ scheduled churn when it has a
churn time). At the churn time: retained and scheduled leave, churned[tenure]
arrives. At close + h for each horizon: the survival base[h], and survived[h]
unless the churn time is before close + h. A delta is due when its time <= as-of.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from stream.core.calendar import HORIZONS, cohort_of, tenure_bucket
from stream.core.subscription import Subscription

__all__ = ["CHURN", "IMMEDIATE", "Contribution", "Family", "SeriesKey", "Step", "contribution_of"]


class Family(Enum):
    """Each family tallies MRR and a deal count; e.g. NEW is sales_new_mrr + sales_deals_won."""

    NEW = "new"
    RETAINED = "retained"
    SCHEDULED = "scheduled"
    CHURNED = "churned"
    BASE = "base"
    SURVIVED = "survived"


# (family, rep_id, lead_source, tenure or horizon or ""); the cohort indexes the store.
SeriesKey = tuple[Family, str, str, str]
# Step names: IMMEDIATE, CHURN or a horizon label from HORIZONS.
Step = str
IMMEDIATE: Step = "close"
CHURN: Step = "churn"


@dataclass(frozen=True, slots=True)
class Contribution:
    rep_id: str
    lead_source: str
    cohort: str
    mrr: Decimal
    closed_at: datetime
    churn_at: datetime | None

    def steps(self) -> Iterator[tuple[Step, datetime | None]]:
        """Every step with the time it falls due; None means immediately."""
        yield IMMEDIATE, None
        if self.churn_at is not None:
            yield CHURN, self.churn_at
        for horizon, length in HORIZONS.items():
            yield horizon, self.closed_at + length

    def effects(self, step: Step) -> Iterator[tuple[SeriesKey, int]]:
        """The series a step moves, each with the sign of the move."""
        rep, source = self.rep_id, self.lead_source
        if step == IMMEDIATE:
            yield (Family.NEW, rep, source, ""), 1
            yield (Family.RETAINED, rep, source, ""), 1
            if self.churn_at is not None:
                yield (Family.SCHEDULED, rep, source, ""), 1
        elif step == CHURN:
            assert self.churn_at is not None
            yield (Family.RETAINED, rep, source, ""), -1
            yield (Family.SCHEDULED, rep, source, ""), -1
            yield (Family.CHURNED, rep, source, tenure_bucket(self.closed_at, self.churn_at)), 1
        else:
            yield (Family.BASE, rep, source, step), 1
            end = self.closed_at + HORIZONS[step]
            if self.churn_at is None or self.churn_at >= end:
                yield (Family.SURVIVED, rep, source, step), 1


def contribution_of(subscription: Subscription | None) -> Contribution | None:
    """None when the subscription moves no business series (absent, or pending its deal)."""
    if subscription is None or subscription.deal is None:
        return None
    deal = subscription.deal
    return Contribution(
        rep_id=deal.rep_id,
        lead_source=deal.lead_source,
        cohort=cohort_of(deal.closed_at),
        mrr=deal.mrr,
        closed_at=deal.closed_at,
        churn_at=subscription.churn_at,
    )
