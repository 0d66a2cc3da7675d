"""Money normalisation: monthly MRR, base-currency conversion, one half-even rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.core.money import MONTHS_PER_PERIOD, FxTable, UnsupportedCurrencyError, monthly

FX = FxTable("USD", {"EUR": Decimal("1.08"), "GBP": Decimal("1.27"), "JPY": Decimal("0.0067")})


@pytest.mark.parametrize(
    ("amount", "period", "expected"),
    [
        ("5000", "month", Decimal("5000")),
        ("15000", "quarter", Decimal("5000")),
        ("60000", "year", Decimal("5000")),
        ("100", "quarter", Decimal("33.333333333333333333333333333333333333333333333333")),
    ],
)
def test_monthly_divides_by_the_months_of_the_period(
    amount: str, period: str, expected: Decimal
) -> None:
    assert monthly(Decimal(amount), period) == expected


def test_monthly_rejects_an_unknown_period() -> None:
    with pytest.raises(ValueError, match="'week' is not one of month, quarter, year"):
        monthly(Decimal(1), "week")


def test_the_period_table_matches_the_contract() -> None:
    assert MONTHS_PER_PERIOD == {"month": 1, "quarter": 3, "year": 12}


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("0.125", "0.12"), ("0.135", "0.14"), ("0.145", "0.14"), ("2.675", "2.68"), ("7", "7.00")],
)
def test_base_currency_rounds_half_to_even(amount: str, expected: str) -> None:
    assert FX.to_base(Decimal(amount), "USD") == Decimal(expected)
    assert str(FX.to_base(Decimal(amount), "USD")) == expected


def test_rounding_happens_once_after_conversion() -> None:
    # 10/12 GBP is 1.0583.. -> 1.06; rounding the monthly 0.8333.. to 0.83 first would
    # give 0.83 * 1.27 = 1.0541 -> 1.05.
    assert FX.to_base(monthly(Decimal(10), "year"), "GBP") == Decimal("1.06")
    assert FX.to_base(Decimal("0.83"), "GBP") == Decimal("1.05")


def test_conversion_uses_base_units_per_unit_of_the_currency() -> None:
    assert FX.to_base(Decimal("1000"), "EUR") == Decimal("1080.00")
    assert FX.to_base(Decimal("150000"), "JPY") == Decimal("1005.00")


def test_unsupported_currency() -> None:
    assert FX.supports("USD")
    assert FX.supports("EUR")
    assert not FX.supports("CHF")
    with pytest.raises(UnsupportedCurrencyError, match="no FX rate for CHF"):
        FX.to_base(Decimal(1), "CHF")


def test_the_base_currency_has_rate_one() -> None:
    assert FxTable("EUR", {"EUR": Decimal(1)}).rate("EUR") == 1
    with pytest.raises(ValueError, match="base currency EUR must have rate 1"):
        FxTable("EUR", {"EUR": Decimal("1.1")})


cents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**9), places=2)
rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1000), places=4)


@given(amount=cents, period=st.sampled_from(sorted(MONTHS_PER_PERIOD)), rate=rates)
def test_matches_exact_rational_arithmetic(amount: Decimal, period: str, rate: Decimal) -> None:
    exact = Fraction(amount) / MONTHS_PER_PERIOD[period] * Fraction(rate)
    table = FxTable("USD", {"XXX": rate})
    result = table.to_base(monthly(amount, period), "XXX")
    # Half-even on the exact rational value, computed without Decimal contexts.
    floor_cents, remainder = divmod(exact * 100, 1)
    half = Fraction(1, 2)
    up = remainder > half or (remainder == half and floor_cents % 2 == 1)
    assert result == Decimal(int(floor_cents) + int(up)) / 100
    assert result == result.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
