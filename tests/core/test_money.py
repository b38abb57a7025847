from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricewatch.core import money
from pricewatch.core.errors import DomainError

NBSP = "\u00a0"

# --- the currency list ------------------------------------------------------------------------


def test_circulating_currencies_are_in_the_list() -> None:
    assert {"EUR", "USD", "GBP", "JPY", "CHF", "AED", "INR", "BHD", "KWD", "XCG", "ZWG"} <= (
        money.CURRENCIES
    )
    assert all(len(code) == 3 and code.isascii() and code.isupper() for code in money.CURRENCIES)


@pytest.mark.parametrize(
    "code",
    [
        "DEM",  # retired (euro)
        "HRK",  # retired in 2023 (euro)
        "SLL",  # replaced by SLE
        "XAU",  # gold
        "CLF",  # a unit of account, not tender
        "XTS",  # reserved for testing
        "XXX",  # "no currency"
        "ABC",
    ],
)
def test_retired_metal_fund_and_made_up_codes_are_not_currencies(code: str) -> None:
    assert not money.is_currency(code)


def test_check_currency_returns_a_valid_code_unchanged() -> None:
    assert money.check_currency("EUR") == "EUR"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ZZZ", "unknown currency 'ZZZ' (not ISO 4217)"),
        ("", "unknown currency '' (not ISO 4217)"),
        ("EURO", "unknown currency 'EURO' (not ISO 4217)"),
        ("XAU", "currency XAU is not a circulating currency"),
        ("DEM", "currency DEM is not a circulating currency"),
        ("eur", "currency 'eur' must be written in capitals ('EUR')"),
        (" EUR", "unknown currency ' EUR' (not ISO 4217)"),
    ],
)
def test_check_currency_refuses_with_a_message_naming_the_value(code: str, message: str) -> None:
    with pytest.raises(DomainError) as refused:
        money.check_currency(code)
    assert refused.value.detail == message
    assert refused.value.code == "invalid_currency"
    assert refused.value.fields == {"currency": message}


def test_lowercase_is_refused_where_codes_are_stored_and_normalised_where_text_is_read() -> None:
    assert not money.is_currency("eur")
    assert money.parse_currency(" eur\n") == "EUR"
    assert money.parse_currency("Usd") == "USD"
    with pytest.raises(DomainError, match="unknown currency 'ZZZ'"):
        money.parse_currency("zzz")


# --- minor units and rounding -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "places"),
    [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3), ("KWD", 3), ("TND", 3)],
)
def test_minor_units(currency: str, places: int) -> None:
    assert money.minor_units(currency) == places


def test_minor_units_follow_cldr_where_the_subunit_is_unused() -> None:
    # ISO 4217 says 3 for the Iraqi dinar; nobody prices in fils, and babel formats 0.
    assert money.minor_units("IQD") == 0


def test_minor_units_of_an_unknown_code_is_refused() -> None:
    with pytest.raises(DomainError, match="ZZZ"):
        money.minor_units("ZZZ")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("12.345", "EUR", "12.35"),  # half rounds up
        ("12.335", "EUR", "12.34"),  # not to even
        ("0.125", "EUR", "0.13"),
        ("12.344", "EUR", "12.34"),
        ("-12.345", "EUR", "-12.35"),  # half away from zero
        ("12", "EUR", "12.00"),
        ("1999.5", "JPY", "2000"),
        ("2.5", "JPY", "3"),
        ("1999.4", "JPY", "1999"),
        ("1.2345", "KWD", "1.235"),
        ("1.2344", "BHD", "1.234"),
        ("5", "BHD", "5.000"),
    ],
)
def test_quantize_rounds_half_up_to_the_minor_unit(
    amount: str, currency: str, expected: str
) -> None:
    result = money.quantize(Decimal(amount), currency)
    assert str(result) == expected


def test_quantize_refuses_floats_infinities_and_unknown_currencies() -> None:
    with pytest.raises(TypeError, match="never float"):
        money.quantize(12.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(DomainError) as refused:
        money.quantize(Decimal("Infinity"), "EUR")
    assert refused.value.code == "invalid_price"
    with pytest.raises(DomainError) as unknown:
        money.quantize(Decimal("1"), "eur")
    assert unknown.value.code == "invalid_currency"


amounts = st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False)
currencies = st.sampled_from(["EUR", "JPY", "KWD", "BHD", "USD", "CLP", "CHF"])


@given(amount=amounts, currency=currencies)
def test_quantize_is_idempotent_and_moves_less_than_half_a_minor_unit(
    amount: Decimal, currency: str
) -> None:
    once = money.quantize(amount, currency)
    assert money.quantize(once, currency) == once
    assert once.as_tuple().exponent == -money.minor_units(currency)
    assert abs(once - amount) <= Decimal(1).scaleb(-money.minor_units(currency)) / 2


# --- API strings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("19.9900", "19.99"),
        ("5", "5.00"),
        ("12.5", "12.50"),
        ("1.2345", "1.2345"),
        ("1E+2", "100.00"),
        ("0.0000", "0.00"),
        ("1999", "1999.00"),
    ],
)
def test_decimal_text_is_the_exact_amount_with_at_least_two_decimals(
    amount: str, expected: str
) -> None:
    assert money.decimal_text(Decimal(amount)) == expected


def test_decimal_text_of_no_amount_is_none() -> None:
    assert money.decimal_text(None) is None


@given(amount=amounts)
def test_decimal_text_reads_back_as_the_same_amount(amount: Decimal) -> None:
    assert Decimal(money.decimal_text(amount)) == amount


# --- formatting for people --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1234.5", "EUR", "€1,234.50"),
        ("12.5", "USD", "$12.50"),
        ("12.5", "GBP", "£12.50"),
        ("1999", "JPY", "¥1,999"),
        ("12.5", "KWD", f"KWD{NBSP}12.500"),
        ("12.5", "CHF", f"CHF{NBSP}12.50"),
        ("12.5", "SEK", f"SEK{NBSP}12.50"),
        ("-3", "EUR", "-€3.00"),
        ("-0.00", "EUR", "€0.00"),
        ("1.789", "EUR", "€1.789"),  # a fuel price keeps its third decimal
        ("19.9900", "EUR", "€19.99"),
    ],
)
def test_format_money_in_english(amount: str, currency: str, expected: str) -> None:
    assert money.format_money(Decimal(amount), currency, locale="en") == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1234.5", "EUR", f"1.234,50{NBSP}€"),
        ("1999", "JPY", f"1.999{NBSP}¥"),
        ("12.5", "CHF", f"12,50{NBSP}CHF"),
        ("1.789", "EUR", f"1,789{NBSP}€"),
    ],
)
def test_format_money_in_german(amount: str, currency: str, expected: str) -> None:
    assert money.format_money(Decimal(amount), currency, locale="de") == expected


def test_format_money_takes_django_language_names() -> None:
    assert money.format_money(Decimal("1234.5"), "EUR", locale="de-ch") == f"EUR{NBSP}1\u2019234.50"
    assert money.format_money(Decimal("12.5"), "USD", locale="en_US") == "$12.50"


def test_format_money_defaults_to_english() -> None:
    assert money.format_money(Decimal("12.5"), "EUR") == "€12.50"


def test_format_money_shows_an_unknown_or_missing_code_after_the_number() -> None:
    # Rows stored before the currency list was enforced must still render.
    assert money.format_money(Decimal("12.5"), "HRK", locale="en") == f"12.50{NBSP}HRK"
    assert money.format_money(Decimal("1234.5"), "", locale="de") == "1.234,50"


def test_format_money_does_not_round_half_to_even() -> None:
    # babel alone would show 0.125 as €0.12; amounts are shown as they are.
    assert money.format_money(Decimal("0.125"), "EUR") == "€0.125"
    assert money.format_money(money.quantize(Decimal("0.125"), "EUR"), "EUR") == "€0.13"
