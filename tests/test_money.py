"""Money normalisation: monthly MRR, base-currency conversion, one half-even rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.core.money import MONTHS_PER_PERIOD, FxTable, UnsupportedCurrencyError, months_of

FX = FxTable("USD", {"EUR": Decimal("1.08"), "GBP": Decimal("1.27"), "JPY": Decimal("0.0067")})


@pytest.mark.parametrize(
    ("amount", "period", "expected"),
    [
        ("5000", "month", "5000.00"),
        ("15000", "quarter", "5000.00"),
        ("60000", "year", "5000.00"),
        ("100", "quarter", "33.33"),
        ("200", "quarter", "66.67"),
    ],
)
def test_mrr_is_the_amount_over_the_months_of_the_period(
    amount: str, period: str, expected: str
) -> None:
    assert str(FX.to_base(Decimal(amount), "USD", months_of(period))) == expected


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="'week' is not one of month, quarter, year"):
        months_of("week")


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
    assert FX.to_base(Decimal(10), "GBP", 12) == Decimal("1.06")
    assert FX.to_base(Decimal("0.83"), "GBP") == Decimal("1.05")


@pytest.mark.parametrize(
    ("amount", "rate", "months", "expected"),
    [
        # Exactly half a cent once converted: a quotient rounded at any precision
        # before the conversion (x.xx666..67 or x.xx333..33) would tip the tie.
        ("12000.08", "0.75", 12, "750.00"),  # 750.005
        ("13000", "0.0069", 12, "7.48"),  # 7.475
        ("3.25", "1.62", 3, "1.76"),  # 1.755
        # More significant digits than any fixed precision keeps: just over half a cent.
        ("0.005" + "0" * 60 + "1", "1", 1, "0.01"),
    ],
)
def test_a_tie_is_decided_on_the_exact_value(
    amount: str, rate: str, months: int, expected: str
) -> None:
    table = FxTable("USD", {"XXX": Decimal(rate)})
    assert str(table.to_base(Decimal(amount), "XXX", months)) == expected


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


amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10**9), places=6)
rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1000), places=4)


@given(amount=amounts, period=st.sampled_from(sorted(MONTHS_PER_PERIOD)), rate=rates)
def test_matches_exact_rational_arithmetic(amount: Decimal, period: str, rate: Decimal) -> None:
    exact = Fraction(amount) / MONTHS_PER_PERIOD[period] * Fraction(rate)
    table = FxTable("USD", {"XXX": rate})
    result = table.to_base(amount, "XXX", months_of(period))
    # Half-even on the exact rational value, computed without Decimal contexts.
    floor_cents, remainder = divmod(exact * 100, 1)
    half = Fraction(1, 2)
    up = remainder > half or (remainder == half and floor_cents % 2 == 1)
    assert result == Decimal(int(floor_cents) + int(up)) / 100
    assert result == result.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
