"""Seeded generator of realistic upstream event streams (issue 6 item 1).

Pure: no I/O and no wall clock. Time comes in as arguments, randomness from one
`random.Random(seed)`, so the same seed and `now` give byte-identical records.
Every record says how to deliver it (topic kind, key or null key, raw bytes) and
whether it was injected as invalid, so a file sink and a Kafka sink share it.
"""

from __future__ import annotations

import heapq
import json
import random
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

__all__ = [
    "DEFAULT_FX_RATES",
    "DEFAULT_REPS",
    "DEFAULT_SOURCES",
    "NO_FAULTS",
    "Faults",
    "LeadSource",
    "Record",
    "Rep",
    "SimConfig",
    "Simulator",
    "TopicKind",
    "format_time",
    "juan_and_miguel_events",
    "month_start",
    "to_record",
]

TopicKind = Literal["deals", "cancellations", "quotas"]

DEFAULT_FX_RATES: Mapping[str, Decimal] = {"EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
CENT = Decimal("0.01")
# Currencies the simulator may claim for an "unknown currency" fault; the first one
# without a configured rate is used, so the fault stays a fault under any config.
UNSUPPORTED_CANDIDATES = ("JPY", "CHF", "AUD", "CAD", "SEK")
PLAN_MONTHS: Mapping[str, int] = {"month": 1, "quarter": 3, "year": 12}
# MRR tiers in base-currency units (mean 5,000), with how often each sells.
TIERS = (Decimal(2000), Decimal(4000), Decimal(5000), Decimal(6000), Decimal(8000))
TIER_WEIGHTS = (15, 25, 25, 20, 15)
REASONS = ("price", "missing_feature", "switched_vendor", "budget_cut", "no_adoption")


@dataclass(frozen=True)
class LeadSource:
    name: str
    early_churn: float  # multiplier on the rep's chance to churn in the first ~80 days
    monthly_churn: float  # hazard after the first 90 days


@dataclass(frozen=True)
class Rep:
    rep_id: str
    name: str
    quota: Decimal  # new MRR per month, in `quota_currency`
    deals_per_month: float
    early_churn: float  # base chance a deal churns early
    sources: Mapping[str, float]  # lead source -> share of the rep's deals
    quota_currency: str | None = None  # None (or one without a rate): the base currency


@dataclass(frozen=True)
class Faults:
    """Rates of the faults real upstreams produce; each is a probability per record
    (`early_cancellation`, `correction`, `invalid`: per deal)."""

    duplicate: float = 0.02
    correction: float = 0.02
    early_cancellation: float = 0.02
    null_key: float = 0.01
    invalid: float = 0.005


NO_FAULTS = Faults(0, 0, 0, 0, 0)

DEFAULT_SOURCES: tuple[LeadSource, ...] = (
    LeadSource("referral", early_churn=0.3, monthly_churn=0.004),
    LeadSource("partner", early_churn=0.7, monthly_churn=0.008),
    LeadSource("webinar", early_churn=1.0, monthly_churn=0.012),
    LeadSource("outbound", early_churn=1.3, monthly_churn=0.02),
    LeadSource("paid-ads", early_churn=1.5, monthly_churn=0.03),
)

DEFAULT_REPS: tuple[Rep, ...] = (
    Rep(
        "juan", "Juan", Decimal(90000), 22, 0.4, {"outbound": 0.5, "paid-ads": 0.4, "webinar": 0.1}
    ),
    Rep("miguel", "Miguel", Decimal(90000), 14, 0.04, {"referral": 0.7, "partner": 0.3}),
    Rep("ana", "Ana", Decimal(60000), 13, 0.12, {"webinar": 0.4, "partner": 0.3, "referral": 0.3}),
    Rep(
        "li", "Li Wei", Decimal(75000), 15, 0.15, {"outbound": 0.4, "webinar": 0.3, "partner": 0.3}
    ),
    Rep(
        "sofia",
        "Sofía",
        Decimal(46000),
        11,
        0.1,
        {"referral": 0.4, "paid-ads": 0.3, "webinar": 0.3},
        quota_currency="EUR",
    ),
)


@dataclass(frozen=True)
class SimConfig:
    reps: Sequence[Rep] = DEFAULT_REPS
    sources: Sequence[LeadSource] = DEFAULT_SOURCES
    base_currency: str = "USD"
    fx_rates: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_FX_RATES))
    faults: Faults = field(default_factory=Faults)
    # Shares of monthly, quarterly and annual plans.
    plan_weights: Mapping[str, float] = field(
        default_factory=lambda: {"month": 0.65, "quarter": 0.2, "year": 0.15}
    )
    base_currency_share: float = 0.6  # the rest is split evenly over the FX currencies
    live_cancel_share: float = 0.25  # of live events that cancel an earlier deal


@dataclass(frozen=True)
class Record:
    """One message to deliver: `raw` is exactly what goes on the wire or the line."""

    kind: TopicKind
    key: str | None
    raw: bytes
    event: Mapping[str, object] | None  # None when `raw` is not JSON
    invalid: bool = False
    fault: str | None = None  # which injected fault produced this record, if any


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    first_of_next = datetime(year + (month + 1) // 12, (month + 1) % 12 + 1, 1, tzinfo=UTC)
    last_day = (first_of_next - timedelta(days=1)).day
    return moment.replace(year=year, month=month + 1, day=min(moment.day, last_day))


def encode(event: Mapping[str, object]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def to_record(event: Mapping[str, object], *, null_key: bool = False) -> Record:
    """The delivery of a valid event: topic by `type`, keyed as SPEC section 2 says."""
    kind: TopicKind
    if event["type"] == "quota_set":
        kind, key = "quotas", event["rep_id"]
    else:
        kind = "deals" if event["type"] == "deal_won" else "cancellations"
        key = event["subscription_id"]
    return Record(kind, None if null_key else str(key), encode(event), event)


@dataclass
class _Deal:
    event: dict[str, object]
    closed_at: datetime
    plan_months: int
    propensity: float  # weight when live mode picks an earlier deal to cancel


class Simulator:
    """Holds the generated world so live mode can cancel deals made by the history."""

    def __init__(self, config: SimConfig, seed: int) -> None:
        self._config = config
        self._rng = random.Random(seed)
        self._sources = {source.name: source for source in config.sources}
        self._currencies = [config.base_currency, *sorted(config.fx_rates)]
        self._unsupported = next(
            code
            for code in UNSUPPORTED_CANDIDATES
            if code not in config.fx_rates and code != config.base_currency
        )
        self._queue: list[tuple[datetime, int, Record]] = []
        self._pushed = 0
        self._open: list[_Deal] = []
        self._quota_months: set[str] = set()

    def history(self, now: datetime, months: int) -> Iterator[Record]:
        """Records of deals closed in the `months` months up to `now`, with the quotas of
        every calendar month they touch and the cancellations decided by `now`."""
        begin = add_months(now, -months)
        start = month_start(begin)
        while start <= now:
            following = add_months(start, 1)
            low, high = max(start, begin), min(following, now)
            self._set_quotas(start)
            share = (high - low) / (following - start)
            for rep in self._config.reps:
                expected = rep.deals_per_month * share
                count = max(0, round(self._rng.gauss(expected, expected * 0.1)))
                for _ in range(count):
                    closed_at = low + (high - low) * self._rng.random()
                    self._close_deal(rep, closed_at.replace(microsecond=0), now)
            start = following
        yield from self._due(now)

    def live(self, clock: Iterable[datetime]) -> Iterator[Record]:
        """One primary event (a deal closing, or an earlier deal cancelling) per tick of
        `clock`, plus the faults and delayed deliveries that fall due by then."""
        for moment in clock:
            self._set_quotas(month_start(moment))
            if self._open and self._rng.random() < self._config.live_cancel_share:
                self._cancel_live(moment)
            else:
                rep = self._rng.choices(
                    self._config.reps, [rep.deals_per_month for rep in self._config.reps]
                )[0]
                self._close_deal(rep, moment, moment)
            yield from self._due(moment)

    # -- building events ---------------------------------------------------------

    def _event_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self._rng.getrandbits(48):012x}"

    def _set_quotas(self, start: datetime) -> None:
        month = start.strftime("%Y-%m")
        if month in self._quota_months:
            return
        self._quota_months.add(month)
        for rep in self._config.reps:
            currency = rep.quota_currency
            event: dict[str, object] = {
                "event_id": self._event_id(),
                "type": "quota_set",
                "rep_id": rep.rep_id,
                "month": month,
                "amount": money(rep.quota),
                "currency": currency if currency in self._currencies else self._currencies[0],
            }
            self._deliver(start, event)

    def _price(self, currency: str) -> Decimal:
        usd = self._rng.choices(TIERS, TIER_WEIGHTS)[0]
        if currency == self._config.base_currency:
            return usd
        # Price lists are whole units in the customer's currency, as real ones are.
        return (usd / self._config.fx_rates[currency]).quantize(Decimal(1))

    def _deal_event(
        self, rep: Rep, source: str, closed_at: datetime
    ) -> tuple[dict[str, object], int]:
        plans = self._config.plan_weights
        plan = self._rng.choices(list(plans), list(plans.values()))[0]
        share, foreign = self._config.base_currency_share, len(self._currencies) - 1
        weights = [share, *[(1 - share) / foreign] * foreign] if foreign else [1.0]
        currency = self._rng.choices(self._currencies, weights)[0]
        mrr = self._price(currency)
        subscription_id = self._id("sub")
        event: dict[str, object] = {
            "event_id": self._event_id(),
            "type": "deal_won",
            "subscription_id": subscription_id,
        }
        if self._rng.random() < 0.7:
            event["deal_id"] = self._id("deal")
        event |= {
            "customer_id": self._id("cus"),
            "rep_id": rep.rep_id,
            "rep_name": rep.name,
            "lead_source": source,
            "closed_at": format_time(closed_at),
        }
        if plan == "month" and self._rng.random() < 0.5:
            event["mrr"] = money(mrr)
        else:
            event["amount"] = money(mrr * PLAN_MONTHS[plan])
            event["billing_period"] = plan
        event["currency"] = currency
        return event, PLAN_MONTHS[plan]

    def _close_deal(self, rep: Rep, closed_at: datetime, now: datetime) -> None:
        source = self._rng.choices(list(rep.sources), list(rep.sources.values()))[0]
        event, plan_months = self._deal_event(rep, source, closed_at)
        deal = _Deal(
            event, closed_at, plan_months, rep.early_churn * self._sources[source].early_churn
        )
        faults = self._config.faults
        if self._rng.random() < faults.early_cancellation:
            # Billing saw a cancellation minutes after the close; the CRM syncs the deal later.
            cancelled_at = closed_at + timedelta(seconds=self._rng.uniform(5, 120))
            self._cancel(deal, cancelled_at)
            late = cancelled_at + timedelta(seconds=self._rng.uniform(1, 60))
            self._deliver(late, event, fault="early_cancellation")
        else:
            self._deliver(closed_at, event)
            decided_at = self._churn_decision(deal)
            if decided_at <= now:
                self._cancel(deal, decided_at)
            else:
                self._open.append(deal)
        if self._rng.random() < faults.correction:
            self._correct(deal)
        if self._rng.random() < faults.invalid:
            self._invalid(rep, closed_at)

    def _churn_decision(self, deal: _Deal) -> datetime:
        source = self._sources[str(deal.event["lead_source"])]
        if self._rng.random() < min(0.95, deal.propensity):
            days = self._rng.uniform(2, 80)
        else:
            days = 90 + self._rng.expovariate(source.monthly_churn) * 30.44
        return deal.closed_at + timedelta(days=days)

    def _cancel(self, deal: _Deal, cancelled_at: datetime) -> None:
        event: dict[str, object] = {
            "event_id": self._event_id(),
            "type": "subscription_cancelled",
            "subscription_id": deal.event["subscription_id"],
            "cancelled_at": format_time(cancelled_at),
        }
        if self._rng.random() < 0.65:
            # Cancel at period end: revenue runs until the next billing boundary.
            periods = 1
            while add_months(deal.closed_at, periods * deal.plan_months) < cancelled_at:
                periods += 1
            event["effective_at"] = format_time(
                add_months(deal.closed_at, periods * deal.plan_months)
            )
        event["reason"] = self._rng.choice(REASONS)
        self._deliver(cancelled_at, event)

    def _cancel_live(self, moment: datetime) -> None:
        deal = self._rng.choices(self._open, [deal.propensity + 0.01 for deal in self._open])[0]
        self._open.remove(deal)
        self._cancel(deal, moment)

    def _correct(self, deal: _Deal) -> None:
        corrected = dict(deal.event, event_id=self._event_id())
        others = [rep for rep in self._config.reps if rep.rep_id != corrected["rep_id"]]
        if others and self._rng.random() < 0.5:
            rep = self._rng.choice(others)
            corrected |= {"rep_id": rep.rep_id, "rep_name": rep.name}
        else:
            field_name = "mrr" if "mrr" in corrected else "amount"
            factor = self._rng.choice(
                (Decimal("0.8"), Decimal("0.9"), Decimal("1.1"), Decimal("1.2"))
            )
            corrected[field_name] = money(Decimal(str(corrected[field_name])) * factor)
        at = deal.closed_at + timedelta(seconds=self._rng.uniform(30, 900))
        self._deliver(at, corrected, fault="correction")

    def _invalid(self, rep: Rep, moment: datetime) -> None:
        event, _ = self._deal_event(rep, next(iter(rep.sources)), moment)
        kind = self._rng.choice(("missing_field", "unsupported_currency", "invalid_json"))
        if kind == "missing_field":
            del event["customer_id"]
            raw = encode(event)
        elif kind == "unsupported_currency":
            event["currency"] = self._unsupported
            raw = encode(event)
        else:
            raw = encode(event)[: self._rng.randint(10, 60)]
        record = Record("deals", str(event["subscription_id"]), raw, event, True, kind)
        if kind == "invalid_json":
            record = replace(record, event=None)
        self._push(moment, record)

    # -- delivery ------------------------------------------------------------------

    def _deliver(self, at: datetime, event: Mapping[str, object], fault: str | None = None) -> None:
        faults = self._config.faults
        # Null keys matter where the join depends on the key: deals and cancellations.
        null_key = self._rng.random() < faults.null_key and event["type"] != "quota_set"
        record = replace(to_record(event, null_key=null_key), fault=fault)
        self._push(at, record)
        if self._rng.random() < faults.duplicate:
            again = at + timedelta(seconds=self._rng.uniform(1, 300))
            self._push(again, replace(record, fault="duplicate"))

    def _push(self, at: datetime, record: Record) -> None:
        heapq.heappush(self._queue, (at, self._pushed, record))
        self._pushed += 1

    def _due(self, now: datetime) -> Iterator[Record]:
        while self._queue and self._queue[0][0] <= now:
            yield heapq.heappop(self._queue)[2]


def juan_and_miguel_events(now: datetime) -> list[dict[str, object]]:
    """SPEC section 7 as events, in publishing order, leaving out any published after `now`."""
    timed: list[tuple[datetime, dict[str, object]]] = []
    jan = datetime(2026, 1, 1, tzinfo=UTC)
    for rep_id in ("juan", "miguel"):
        quota: dict[str, object] = {
            "event_id": f"example-quota-{rep_id}-2026-01",
            "type": "quota_set",
            "rep_id": rep_id,
            "month": "2026-01",
            "amount": "90000",
            "currency": "USD",
        }
        timed.append((jan, quota))
    plans = (
        (
            "juan",
            "Juan",
            "outbound",
            20,
            datetime(2026, 1, 10, tzinfo=UTC),
            10,
            datetime(2026, 2, 20, tzinfo=UTC),
        ),
        (
            "miguel",
            "Miguel",
            "referral",
            14,
            datetime(2026, 1, 12, tzinfo=UTC),
            1,
            datetime(2026, 6, 1, tzinfo=UTC),
        ),
    )
    for rep_id, name, source, deals, closed_at, cancelling, effective_at in plans:
        for number in range(1, deals + 1):
            subscription_id = f"example-{rep_id}-{number:02d}"
            deal: dict[str, object] = {
                "event_id": f"{subscription_id}-won",
                "type": "deal_won",
                "subscription_id": subscription_id,
                "customer_id": f"example-customer-{rep_id}-{number:02d}",
                "rep_id": rep_id,
                "rep_name": name,
                "lead_source": source,
                "closed_at": format_time(closed_at),
                "mrr": "5000",
                "currency": "USD",
            }
            timed.append((closed_at, deal))
            if number <= cancelling:
                cancelled_at = effective_at - timedelta(days=14)
                cancellation: dict[str, object] = {
                    "event_id": f"{subscription_id}-cancelled",
                    "type": "subscription_cancelled",
                    "subscription_id": subscription_id,
                    "cancelled_at": format_time(cancelled_at),
                    "effective_at": format_time(effective_at),
                    "reason": "example",
                }
                timed.append((cancelled_at, cancellation))
    timed.sort(key=lambda item: item[0])
    return [event for at, event in timed if at <= now]
