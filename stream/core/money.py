"""Money normalisation (SPEC 3.4): MRR per month, conversion to the base currency,
one half-to-even rounding to cents after the conversion. Standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

__all__ = ["MONTHS_PER_PERIOD", "FxTable", "UnsupportedCurrencyError", "months_of"]

MONTHS_PER_PERIOD: Mapping[str, int] = {"month": 1, "quarter": 3, "year": 12}


class UnsupportedCurrencyError(LookupError):
    """A currency that is neither the base currency nor has a configured rate."""


def months_of(billing_period: str) -> int:
    """Months in a billing period: an amount billed every period is this many months' MRR."""
    try:
        return MONTHS_PER_PERIOD[billing_period]
    except KeyError:
        raise ValueError(
            f"billing_period {billing_period!r} is not one of {', '.join(MONTHS_PER_PERIOD)}"
        ) from None


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

    def to_base(self, amount: Decimal, currency: str, months: int = 1) -> Decimal:
        """`amount` of `currency` billed every `months`, per month in the base currency,
        rounded half to even to cents. Exact rational arithmetic up to that one rounding:
        a division by 3 or 12 rounded at any precision could move a cent at a tie."""
        exact = Fraction(amount) * Fraction(self.rate(currency)) / months
        cents = round(exact * 100)  # ties go to the even cent
        return Decimal(cents).scaleb(-2)
