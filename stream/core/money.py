"""Money normalisation (SPEC 3.4): MRR per month, conversion to the base currency,
one half-to-even rounding to cents after the conversion. Standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

__all__ = ["CENT", "MONTHS_PER_PERIOD", "FxTable", "UnsupportedCurrencyError", "monthly"]

CENT = Decimal("0.01")
MONTHS_PER_PERIOD: Mapping[str, int] = {"month": 1, "quarter": 3, "year": 12}

# Far more digits than any amount (<= 10^9, cents) times any rate needs, so the only
# rounding that changes a cent is the explicit one in `FxTable.to_base`.
_CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN)


class UnsupportedCurrencyError(LookupError):
    """A currency that is neither the base currency nor has a configured rate."""


def monthly(amount: Decimal, billing_period: str) -> Decimal:
    """Amount per month for an amount billed every `billing_period`; not rounded."""
    try:
        months = MONTHS_PER_PERIOD[billing_period]
    except KeyError:
        raise ValueError(
            f"billing_period {billing_period!r} is not one of {', '.join(MONTHS_PER_PERIOD)}"
        ) from None
    with localcontext(_CONTEXT):
        return amount / months


@dataclass(frozen=True)
class FxTable:
    """Rates as base units per one unit of the currency; the base currency has rate 1."""

    base: str
    rates: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        listed = self.rates.get(self.base)
        if listed is not None and listed != 1:
            raise ValueError(f"the base currency {self.base} must have rate 1, got {listed}")

    def supports(self, code: str) -> bool:
        return code == self.base or code in self.rates

    def rate(self, code: str) -> Decimal:
        if code == self.base:
            return Decimal(1)
        try:
            return self.rates[code]
        except KeyError:
            known = ", ".join(self.rates) or "none"
            raise UnsupportedCurrencyError(
                f"no FX rate for {code} (base {self.base}; rates for: {known})"
            ) from None

    def to_base(self, amount: Decimal, currency: str) -> Decimal:
        """`amount` of `currency` in the base currency, rounded half to even to cents."""
        with localcontext(_CONTEXT):
            return (amount * self.rate(currency)).quantize(CENT)
