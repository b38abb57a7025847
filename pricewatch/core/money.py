"""Money: the currency list, rounding to a currency's minor unit, and display.

Currencies, minor units and display rules come from babel (CLDR data), so no code table is kept
here. Amounts are `Decimal`, never float. Pure: no Django, no ORM.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Final, overload

from babel import Locale
from babel.core import get_global
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_territory_currencies,
    list_currencies,
)

from pricewatch.core.errors import DomainError

# Commercial rounding (half away from zero), as on a receipt; Decimal and babel default to
# half-even, which would round 0.125 EUR down to 0.12.
ROUNDING: Final = ROUND_HALF_UP
DEFAULT_LOCALE: Final = "en"


def _circulating() -> frozenset[str]:
    # A date past every end date keeps the currencies still legal tender somewhere with no end
    # in sight: the list moves with babel's CLDR data, not with the calendar. It leaves out
    # retired codes (DEM, HRK), precious metals, funds and testing codes (XAU, CLF, XTS, XXX).
    territories = get_global("territory_currencies")
    return frozenset(
        code
        for territory in territories
        for code in get_territory_currencies(territory, start_date=date.max, tender=True)
    )


CURRENCIES: Final[frozenset[str]] = _circulating()
# Every code CLDR has ever named, to tell a retired or non-tender code from a made-up one.
_KNOWN: Final[frozenset[str]] = frozenset(list_currencies())
# CLDR currency spacing, which babel does not apply: a letter never touches a digit
# ("CHF 12.50", not "CHF12.50").
_LETTER_NEXT_TO_DIGIT: Final = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def is_currency(code: str) -> bool:
    """Whether `code` is a circulating currency, written as stored: upper case, no spaces."""
    return code in CURRENCIES


def check_currency(code: str) -> str:
    """`code` itself if it is a circulating currency; otherwise a `DomainError` naming it.

    Strict: "eur" is refused, because what is stored and compared must be the canonical code.
    Text from people and feeds goes through `parse_currency` first.
    """
    if code in CURRENCIES:
        return code
    if code.upper() in CURRENCIES:
        detail = f"currency {code!r} must be written in capitals ({code.upper()!r})"
    elif code in _KNOWN:
        detail = f"currency {code} is not a circulating currency"
    else:
        detail = f"unknown currency {code!r} (not ISO 4217)"
    raise DomainError(detail, code="invalid_currency", fields={"currency": detail})


def parse_currency(text: str) -> str:
    """A currency code as a person or a feed writes it (" usd") in canonical form ("USD")."""
    return check_currency(text.strip().upper())


def minor_units(currency: str) -> int:
    """Decimal places of the currency's minor unit: EUR 2, JPY 0, KWD 3.

    CLDR's figure, which is ISO 4217's except where the minor unit is not used in practice
    (IQD, RSD, ...: 0); it is what shops and babel's formatting show.
    """
    return get_currency_precision(check_currency(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded to the currency's minor unit, half away from zero (ROUND_HALF_UP)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money is a Decimal, never {type(amount).__name__}")
    if not amount.is_finite():
        raise DomainError(f"amount {amount} is not a finite number", code="invalid_price")
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUNDING)


@overload
def decimal_text(amount: Decimal) -> str: ...
@overload
def decimal_text(amount: None) -> None: ...
@overload
def decimal_text(amount: Decimal | None) -> str | None: ...
def decimal_text(amount: Decimal | None) -> str | None:
    """The API's money string: the exact amount, at least two decimals ("19.9900" -> "19.99")."""
    if amount is None:
        return None
    whole, _, fraction = format(amount, "f").partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def decimal_text_of_string(text: str | None) -> str | None:
    """`decimal_text` for an amount the database rendered as text ("12.5000", "12", "1E-7"),
    without building a Decimal for the common case (history payloads, hundreds of rows)."""
    if text is None:
        return None
    if "e" in text or "E" in text:  # a float in exponent form (SQLite, tiny prices)
        return decimal_text(Decimal(text))
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def format_money(amount: Decimal, currency: str, *, locale: str = DEFAULT_LOCALE) -> str:
    """`amount` for people: "€1,234.50" in en, "1.234,50 €" in de (babel's CLDR rules).

    Shows the currency's minor unit and never rounds away decimals the amount has (fuel at
    €1.789 stays €1.789). An empty or unknown code is shown after the bare number. `locale` is
    a babel or Django name ("de_CH", "de-ch").
    """
    # Equal amounts format alike (babel drops trailing zeros past the minor unit), so the
    # cache may key on the value; -0 is shown as 0.
    return _format(amount if amount else Decimal(0), currency, locale)


# Pages show thousands of prices and babel's formatting is slow next to a page's budget.
@lru_cache(maxsize=8192)
def _format(amount: Decimal, currency: str, locale_name: str) -> str:
    locale = Locale.parse(locale_name.replace("-", "_"))
    if currency in CURRENCIES:
        text = format_currency(amount, currency, locale=locale, decimal_quantization=False)
        return _LETTER_NEXT_TO_DIGIT.sub("\u00a0", text)
    number = format_decimal(amount, "#,##0.00", locale=locale, decimal_quantization=False)
    return f"{number}\u00a0{currency}" if currency else number
