# ruff: noqa: RUF001  -- multilingual currency marks and phrases look like Latin letters
"""Value normalisation for the price extractor: amounts, currencies, availability, locales.

Everything here is pure and cheap; the extractor calls these helpers many times per page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from price_parser import Price

from pricewatch.core import money

# Prices at or above this are phone numbers, SKUs or IDs that leaked into a candidate.
MAX_PRICE = Decimal("100000000")

# ---------------------------------------------------------------------------------------------
# Locale: which country a page is from and which decimal separator it writes
# ---------------------------------------------------------------------------------------------

# Languages that write "1.234,56" (comma decimal). Everything else defaults to "1,234.56".
_COMMA_DECIMAL_LANGS = frozenset({
    "af", "az", "be", "bg", "bs", "ca", "cs", "da", "de", "el", "es", "et", "eu", "fi", "fo",
    "fr", "gl", "hr", "hu", "hy", "id", "is", "it", "ka", "kk", "ky", "lt", "lv", "mk", "mn",
    "nb", "nl", "nn", "no", "pl", "pt", "ro", "ru", "sk", "sl", "sq", "sr", "sv", "tr", "uk",
    "uz", "vi",
})  # fmt: skip
# Countries whose convention overrides the language's (en-ZA writes "1 234,56", de-CH "1'234.56").
_COMMA_DECIMAL_COUNTRIES = frozenset({
    "AR", "AT", "BE", "BG", "BR", "CL", "CO", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR",
    "HR", "HU", "ID", "IS", "IT", "LT", "LU", "LV", "NL", "NO", "PL", "PT", "RO", "RS", "RU",
    "SE", "SI", "SK", "TR", "UA", "VN", "ZA",
})  # fmt: skip
_DOT_DECIMAL_COUNTRIES = frozenset({
    "AU", "CA", "CH", "CN", "GB", "HK", "IE", "IL", "IN", "JP", "KR", "MX", "MY", "NZ", "PH",
    "SG", "TH", "TW", "US",
})  # fmt: skip
_TLD_COUNTRY_FIX = {"uk": "GB", "el": "GR"}

# A language alone, when the page names no region, suggests this country.
_LANG_COUNTRY = {
    "cs": "CZ", "da": "DK", "de": "DE", "el": "GR", "et": "EE", "fi": "FI", "fr": "FR",
    "he": "IL", "hu": "HU", "it": "IT", "ja": "JP", "ko": "KR", "lt": "LT", "lv": "LV",
    "nb": "NO", "nl": "NL", "nn": "NO", "no": "NO", "pl": "PL", "pt": "PT", "ro": "RO",
    "ru": "RU", "sk": "SK", "sl": "SI", "sv": "SE", "tr": "TR", "uk": "UA", "bg": "BG",
    "hr": "HR", "is": "IS", "th": "TH", "vi": "VN", "id": "ID", "ms": "MY", "hi": "IN",
    "zh": "CN", "es": "ES", "sr": "RS",
}  # fmt: skip

# Country -> local currency, used to resolve "$", "kr", "元" and to fill a missing currency.
COUNTRY_CURRENCY = {
    "US": "USD", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "MX": "MXN", "AR": "ARS", "CL": "CLP",
    "CO": "COP", "BR": "BRL", "UY": "UYU", "TW": "TWD", "HK": "HKD", "SG": "SGD", "CN": "CNY",
    "JP": "JPY", "KR": "KRW", "IN": "INR", "GB": "GBP", "IE": "EUR", "CH": "CHF", "LI": "CHF",
    "SE": "SEK", "NO": "NOK", "DK": "DKK", "IS": "ISK", "PL": "PLN", "CZ": "CZK", "HU": "HUF",
    "RO": "RON", "BG": "BGN", "HR": "EUR", "RS": "RSD", "RU": "RUB", "UA": "UAH", "BY": "BYN",
    "TR": "TRY", "IL": "ILS", "ZA": "ZAR", "TH": "THB", "VN": "VND", "ID": "IDR", "MY": "MYR",
    "PH": "PHP", "AE": "AED", "SA": "SAR", "EG": "EGP", "NG": "NGN", "KE": "KES", "PK": "PKR",
    "DE": "EUR", "AT": "EUR", "FR": "EUR", "BE": "EUR", "NL": "EUR", "LU": "EUR", "IT": "EUR",
    "ES": "EUR", "PT": "EUR", "FI": "EUR", "EE": "EUR", "LV": "EUR", "LT": "EUR", "SK": "EUR",
    "SI": "EUR", "GR": "EUR", "CY": "EUR", "MT": "EUR",
}  # fmt: skip
_DOLLAR_COUNTRIES = frozenset(
    {"US", "CA", "AU", "NZ", "MX", "AR", "CL", "CO", "UY", "TW", "HK", "SG"}
)
_KRONA_COUNTRIES = {"SE": "SEK", "NO": "NOK", "DK": "DKK", "IS": "ISK"}
# Two-letter path segments that are languages far more often than countries.
_LANGUAGE_SEGMENTS = frozenset({"en", "de", "fr", "es", "it", "pt", "nl"})


@dataclass(frozen=True)
class Locale:
    """What the page tells about where it is from: country (ISO 3166) and decimal separator."""

    country: str | None
    language: str | None
    decimal: str  # "." or ","


def country_from_host(host: str) -> str | None:
    """Country from a host's TLD (`shop.example.co.uk` -> GB); None for .com and friends."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) < 2:
        return None
    tld = labels[-1]
    if len(tld) != 2 or not tld.isalpha():
        return None
    return _TLD_COUNTRY_FIX.get(tld, tld.upper())


_PATH_LOCALE = re.compile(r"^(?:([a-z]{2})[-_]([a-z]{2})|([a-z]{2}))$")


def country_from_path(path: str) -> str | None:
    """Country from locale-looking leading path segments (`/en-ca/...`, `/nz/en/...`)."""
    segments = [s for s in path.lower().split("/")[:3] if s]
    for segment in segments[:2]:
        m = _PATH_LOCALE.match(segment)
        if not m:
            continue
        if m.group(2):
            return m.group(2).upper()
        code = m.group(3) or ""
        if code.upper() in COUNTRY_CURRENCY and code not in _LANGUAGE_SEGMENTS:
            return code.upper()
    return None


def make_locale(url: str | None, html_lang: str | None) -> Locale:
    """Combine <html lang>, path locale and TLD into a Locale; the most specific hint wins."""
    language: str | None = None
    country: str | None = None
    if html_lang:
        parts = re.split(r"[-_]", html_lang.strip().lower())
        if 2 <= len(parts[0]) <= 3 and parts[0].isalpha():
            language = parts[0]
        for part in parts[1:]:
            if len(part) == 2 and part.isalpha():
                country = part.upper()
    if url:
        try:
            split = urlsplit(url)
            host = split.hostname or ""
        except ValueError:
            split, host = None, ""
        if split is not None:
            country = country or country_from_path(split.path) or country_from_host(host)
    if country is None and language is not None:
        country = _LANG_COUNTRY.get(language)
    if country in _COMMA_DECIMAL_COUNTRIES:
        decimal = ","
    elif country in _DOT_DECIMAL_COUNTRIES:
        decimal = "."
    else:
        decimal = "," if language in _COMMA_DECIMAL_LANGS else "."
    return Locale(country=country, language=language, decimal=decimal)


# ---------------------------------------------------------------------------------------------
# Amounts
# ---------------------------------------------------------------------------------------------

_GROUP_CHARS = " '\u2019\u00a0\u202f\u2009"  # characters that only ever group thousands
# A number as shops write it: digits with optional group separators and one decimal part.
NUMBER_RE = re.compile(r"\d(?:[\d.,'\u2019\u00a0\u202f\u2009 ]*\d)?(?:[.,][-\u2013\u2014]{1,2})?")
_GROUPED_3 = re.compile(r"^\d{1,3}(?:[ '\u2019\u00a0\u202f\u2009]\d{3})+$")
_WHOLE_UNITS = re.compile(r"[.,][-\u2013\u2014]+$")
_GROUP_SPLIT = re.compile(r"[ '\u2019\u00a0\u202f\u2009]")
_LEADING_GROUPED = re.compile(r"^[\d '\u2019\u00a0\u202f\u2009]+")


def number_to_decimal(token: str, decimal_hint: str = ".") -> Decimal | None:
    """Turn one number token (`1.234,56`, `1,234.56`, `20,-`, `1 299`) into a Decimal.

    A single separator followed by exactly three digits is a thousands separator unless it is
    the page locale's decimal mark (`1.299` is 1299 on a German page, 1.299 on a US one).
    """
    token = _WHOLE_UNITS.sub("", token.strip())  # "20,-" means whole units
    head = token.split(".", 1)[0].split(",", 1)[0]
    if _GROUP_SPLIT.search(head):
        # Spaces and apostrophes group thousands only in groups of three; "12 99" is two
        # numbers: keep the first.
        m = _LEADING_GROUPED.match(token)
        grouped = m.group(0).rstrip(_GROUP_CHARS) if m else head
        if _GROUPED_3.match(grouped):
            token = _GROUP_SPLIT.sub("", token)
        else:
            token = _GROUP_SPLIT.split(token, maxsplit=1)[0]
    token = _GROUP_SPLIT.sub("", token)
    dots, commas = token.count("."), token.count(",")
    if dots and commas:
        decimal_sep = "." if token.rfind(".") > token.rfind(",") else ","
        token = token.replace("," if decimal_sep == "." else ".", "")
        if token.count(decimal_sep) > 1:
            return None
        token = token.replace(decimal_sep, ".")
    elif dots or commas:
        sep = "." if dots else ","
        parts = token.split(sep)
        if len(parts) > 2:
            # "1.234.567" groups thousands, so does Indian "1,23,456"; "1.2.3" is no price.
            western = 1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:])
            indian = (
                sep == ","
                and 1 <= len(parts[0]) <= 2
                and len(parts[-1]) == 3
                and all(len(p) == 2 for p in parts[1:-1])
            )
            if not (western or indian):
                return None
            token = "".join(parts)
        else:
            whole, frac = parts
            if not whole:
                return None
            thousands = len(frac) == 3 and len(whole) <= 3 and whole != "0"
            token = whole + frac if thousands and sep != decimal_hint else whole + "." + frac
    try:
        value = Decimal(token)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def clean_price(value: Decimal | None) -> Decimal | None:
    """Return the value when it is a credible positive price, else None."""
    if value is None or not value.is_finite() or value <= 0 or value >= MAX_PRICE:
        return None
    return value


_PLAIN_DECIMAL = re.compile(r"\d+(?:\.\d+)?")


def parse_structured_price(raw: object, decimal_hint: str = ".") -> Decimal | None:
    """Parse a price value taken from structured data (JSON number or string)."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            return None
        # JSON 978.0 is the price 978; keep the scale of strings ("19.50") as written.
        if isinstance(raw, float) and value == value.to_integral_value():
            value = value.quantize(Decimal(1))
        return clean_price(value)
    if isinstance(raw, list | tuple):
        for item in raw:
            found = parse_structured_price(item, decimal_hint)
            if found is not None:
                return found
        return None
    if not isinstance(raw, str):
        return None
    text = raw.strip()[:100]
    # schema.org says "use '.' for the decimal point": honour it when the string is plain,
    # except "1.299" on a comma-decimal page, which is the shop's own thousands separator
    # (three-decimal retail prices being far rarer than that mistake).
    if _PLAIN_DECIMAL.fullmatch(text):
        whole, _, frac = text.partition(".")
        if decimal_hint == "," and len(frac) == 3 and len(whole) <= 3 and whole != "0":
            text = whole + frac
        return clean_price(Decimal(text))
    return parse_price_text(text, decimal_hint)[0]


def parse_price_text(text: str, decimal_hint: str = ".") -> tuple[Decimal | None, str | None]:
    """Parse a price string into (amount, raw currency mark).

    price-parser reads the amount and the currency mark; our own tokeniser overrides the amount
    where it knows better: the page locale settles `1.299` vs `1,299`, and "173 34" is two
    numbers, not 17334.
    """
    text = text.strip()[:200]
    if not text:
        return None, None
    parsed = Price.fromstring(text)
    amount = parsed.amount
    m = NUMBER_RE.search(text)
    if m is not None:
        own = number_to_decimal(m.group(0), decimal_hint)
        if own is not None:
            amount = own
    return clean_price(amount), parsed.currency


# ---------------------------------------------------------------------------------------------
# Currency
# ---------------------------------------------------------------------------------------------

# Codes that shops still use but ISO retired or never had.
_LEGACY_CODES = {"RUR": "RUB", "NIS": "ILS", "NTD": "TWD", "RMB": "CNY", "YTL": "TRY"}
_ISO_OR_LEGACY = money.CURRENCIES | frozenset(_LEGACY_CODES)

# Unambiguous marks, lower-cased.
_SYMBOLS = {
    "us$": "USD", "usd$": "USD", "c$": "CAD", "ca$": "CAD", "cad$": "CAD", "a$": "AUD",
    "au$": "AUD", "nz$": "NZD", "hk$": "HKD", "s$": "SGD", "nt$": "TWD", "r$": "BRL",
    "mx$": "MXN", "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "£": "GBP",
    "₹": "INR", "rs.": "INR", "rs": "INR", "₽": "RUB", "руб": "RUB", "руб.": "RUB",
    "р.": "RUB", "₴": "UAH", "грн": "UAH", "грн.": "UAH", "zł": "PLN", "zl": "PLN",
    "kč": "CZK", "kc": "CZK", "ft": "HUF", "lei": "RON", "лв": "BGN", "лв.": "BGN",
    "₺": "TRY", "tl": "TRY", "₪": "ILS", 'ש"ח': "ILS", "ש״ח": "ILS",
    "₩": "KRW", "원": "KRW", "円": "JPY", "￥": "JPY", "₫": "VND", "đ": "VND", "฿": "THB",
    "บาท": "THB", "₱": "PHP", "rm": "MYR", "rp": "IDR", "₦": "NGN", "chf": "CHF",
    "fr.": "CHF", "sfr.": "CHF", "din.": "RSD", "дин.": "RSD", "₸": "KZT", "₼": "AZN",
    "₾": "GEL", "د.إ": "AED", "ر.س": "SAR", "﷼": "SAR", "₡": "CRC", "₲": "PYG",
}  # fmt: skip
# Every mark the tokeniser recognises (lower-cased); ambiguous ones are resolved by locale.
# "kn" (the Croatian kuna, retired in 2023) is still read as a mark but names no currency a price
# can be recorded in: beside a euro price, the euro price wins.
_MARKS = frozenset({*_SYMBOLS, "$", "¥", "元", "kr", "kr.", ":-", "kn"})
_MAX_MARK = max(len(m) for m in _MARKS)
_BLANKS = " \u00a0\u202f\u2009\t\n\r"
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# First/last characters a mark can have: a cheap test before the dictionary lookups.
_MARK_FIRST = frozenset(c for m in _MARKS for c in (m[0], m[0].upper())) | _UPPER
_MARK_LAST = frozenset(c for m in _MARKS for c in (m[-1], m[-1].upper())) | _UPPER


def _is_mark(mark: str, neighbour: str, at_end: bool) -> bool:
    """True when `mark` is a currency mark and not part of a longer word."""
    if len(mark) == 3 and mark in _ISO_OR_LEGACY:
        return not neighbour.isalpha()
    if mark.lower() not in _MARKS:
        return False
    edge = mark[0] if at_end else mark[-1]
    # Word-like marks must not touch letters: "Ministers 12" is not rupees, "12 left" not forints.
    return not (edge.isalpha() and neighbour.isalpha() and (at_end or mark.isascii()))


def _mark_at_end(text: str) -> str | None:
    """A currency mark ending `text`, spaces allowed after it: `EUR`, `€`, `Rs.`."""
    text = text.rstrip(_BLANKS)
    for size in range(min(len(text), _MAX_MARK), 0, -1):
        neighbour = text[-size - 1] if len(text) > size else ""
        if _is_mark(text[-size:], neighbour, at_end=True):
            return text[-size:]
    return None


def _mark_at_start(text: str) -> str | None:
    """A currency mark starting `text`, spaces allowed before it: `€`, `zł`, `원`."""
    text = text.lstrip(_BLANKS)
    for size in range(min(len(text), _MAX_MARK), 0, -1):
        neighbour = text[size] if len(text) > size else ""
        if _is_mark(text[:size], neighbour, at_end=False):
            return text[:size]
    return None


_NUMBER_TOKEN = re.compile(
    r"(?<![\d.,])(?:\d{1,2}(?:,\d\d)+,\d{3}(?:\.\d{1,2})?|"  # Indian 1,23,456.00
    r"\d{1,3}(?:[.,'\u2019\u00a0\u202f\u2009 ]\d{3})+(?:[.,]\d{1,2})?|"
    r"\d+(?:[.,]\d{1,2})?)(?:[.,][-\u2013\u2014]{1,2})?(?!\d)"
)


def find_mentions(text: str, limit: int = 6) -> list[tuple[int, int, str, str]]:
    """Prices written with a currency mark: (start, end, number, mark), mark before or after.

    Looks up the few characters around each number in a set instead of running one big
    alternation regex over the text: this runs on every digit-bearing text node of a page.
    """
    out: list[tuple[int, int, str, str]] = []
    for m in _NUMBER_TOKEN.finditer(text):
        start, end = m.span()
        before = text[max(0, start - _MAX_MARK - 4) : start]
        stripped = before.rstrip(_BLANKS)
        mark = _mark_at_end(before) if stripped and stripped[-1] in _MARK_LAST else None
        if mark is not None:
            out.append((text.rfind(mark, 0, start), end, m.group(0), mark))
        else:
            after = text[end : end + _MAX_MARK + 4]
            stripped = after.lstrip(_BLANKS)
            if not stripped or stripped[0] not in _MARK_FIRST:
                continue
            mark = _mark_at_start(after)
            if mark is None:
                continue
            out.append((start, text.find(mark, end) + len(mark), m.group(0), mark))
        if len(out) >= limit:
            break
    return out


_MARK_TOKEN = re.compile(r"[^\d\s.,:;()\[\]/|]+\.?")


def normalize_currency(raw: str | None, locale: Locale | None = None) -> str | None:
    """Map a currency code or symbol (`€`, `zł`, `$`, `kr`, `RUR`) to an ISO 4217 code."""
    if not raw:
        return None
    text = raw.strip()
    upper = text.upper()
    if money.is_currency(upper):
        return upper
    if upper in _LEGACY_CODES:
        return _LEGACY_CODES[upper]
    lower = text.lower()
    if lower in _SYMBOLS:
        return _SYMBOLS[lower]
    country = locale.country if locale else None
    if lower == "$":
        return COUNTRY_CURRENCY[country] if country in _DOLLAR_COUNTRIES else "USD"
    if lower in ("kr", "kr.", ":-"):
        return _KRONA_COUNTRIES.get(country or "", "SEK")
    if lower == "¥":
        return "CNY" if country == "CN" or (locale and locale.language == "zh") else "JPY"
    if lower == "元":
        return {"TW": "TWD", "HK": "HKD", "JP": "JPY"}.get(country or "", "CNY")
    if len(text) > 1:
        return currency_in_text(text, locale)
    return None


def currency_in_text(text: str, locale: Locale | None = None) -> str | None:
    """The ISO code of the first currency mark in a longer text ("EUR 12,99", "12.99 zł")."""
    for m in _MARK_TOKEN.finditer(text[:200]):
        token = m.group(0)
        if token == text.strip():
            # A single token that is not a mark as a whole: try its mark-like ends.
            for candidate in (_mark_at_end(token), _mark_at_start(token)):
                if candidate and candidate != token:
                    found = normalize_currency(candidate, locale)
                    if found:
                        return found
            return None
        found = normalize_currency(token, locale)
        if found is None and token.endswith("."):
            found = normalize_currency(token[:-1], locale)
        if found:
            return found
    return None


def default_currency(locale: Locale) -> str | None:
    """The local currency of the page's country, used when a price shows no currency mark."""
    return COUNTRY_CURRENCY.get(locale.country or "")


# ---------------------------------------------------------------------------------------------
# Availability
# ---------------------------------------------------------------------------------------------

_AVAILABILITY_WORDS = {
    "instock": "InStock", "in stock": "InStock", "in_stock": "InStock", "available": "InStock",
    "availableforpurchase": "InStock", "yes": "InStock", "true": "InStock",
    "outofstock": "OutOfStock", "out of stock": "OutOfStock", "out_of_stock": "OutOfStock",
    "oos": "OutOfStock", "soldout": "OutOfStock", "sold out": "OutOfStock",
    "unavailable": "OutOfStock", "no": "OutOfStock", "false": "OutOfStock",
    "preorder": "PreOrder", "pre-order": "PreOrder", "pre order": "PreOrder",
    "presale": "PreOrder", "backorder": "BackOrder", "back order": "BackOrder",
    "discontinued": "Discontinued", "limitedavailability": "LimitedAvailability",
    "limited availability": "LimitedAvailability", "instoreonly": "InStoreOnly",
    "in store only": "InStoreOnly", "onlineonly": "OnlineOnly", "online only": "OnlineOnly",
    "reserved": "OutOfStock", "madetoorder": "BackOrder", "pending": "PreOrder",
}  # fmt: skip


def normalize_availability(raw: object) -> str | None:
    """Map `http://schema.org/InStock`, `instock`, `SoldOut`, ... to a schema.org short name.

    SoldOut and Reserved become OutOfStock, MadeToOrder BackOrder, PreSale PreOrder: the
    tracker only needs to know whether the product can be bought now, later or not at all.
    """
    if isinstance(raw, list | tuple):
        for item in raw:
            found = normalize_availability(item)
            if found:
                return found
        return None
    if isinstance(raw, bool):
        return "InStock" if raw else "OutOfStock"
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text:
        return None
    # Full URLs and CURIEs: keep the last segment ("https://schema.org/InStock", "schema:InStock").
    key = re.split(r"[/#:]", text.rstrip("/"))[-1].strip().lower()
    found = _AVAILABILITY_WORDS.get(key)
    if found is None:
        found = _AVAILABILITY_WORDS.get(" ".join(text.lower().split()))
    return found


# Visible phrases, used when the page has no structured availability. Out-of-stock phrases are
# checked first because they often sit next to a (disabled) buy button.
OUT_OF_STOCK_PHRASES = (
    "out of stock", "sold out", "currently unavailable", "no longer available",
    "not available", "ausverkauft", "nicht verfügbar", "nicht lieferbar", "derzeit nicht",
    "épuisé", "rupture de stock", "indisponible", "agotado", "sin stock", "no disponible",
    "esaurito", "non disponibile", "niedostępny", "wyprzedany", "brak w magazynie",
    "нет в наличии", "распродано", "немає в наявності", "vyprodáno", "není skladem",
    "nie je na sklade", "slutsåld", "ej i lager", "utsolgt", "udsolgt", "loppuunmyyty",
    "tükendi", "stokta yok", "uitverkocht", "niet op voorraad", "esgotado", "indisponível",
    "売り切れ", "在庫切れ", "品切れ", "售完", "已售完", "缺貨", "缺货", "품절", "nav pieejams",
    "izpārdots", "nėra sandėlyje", "laost otsas", "ei ole saadaval", "nincs raktáron",
    "elfogyott", "stoc epuizat", "nu este in stoc", "indisponibil", "rasprodano", "razprodano",
    "אזל מהמלאי", "אינו במלאי", "לא במלאי", "غير متوفر", "نفدت الكمية", "hết hàng", "สินค้าหมด",
)  # fmt: skip
PREORDER_PHRASES = (
    "pre-order", "preorder", "vorbestellen", "vorbestellung", "précommande", "précommander",
    "preventa", "reserva ya", "preordina", "przedsprzedaż", "предзаказ", "předobjednávka",
    "förbeställ", "forhåndsbestill", "予約", "預購", "预售", "예약",
)  # fmt: skip
IN_STOCK_PHRASES = (
    "add to cart", "add to basket", "add to bag", "add to trolley", "buy now", "in stock",
    "in den warenkorb", "in den einkaufswagen", "jetzt kaufen", "auf lager", "sofort lieferbar",
    "ajouter au panier", "en stock", "añadir al carrito", "añadir a la cesta", "comprar",
    "aggiungi al carrello", "disponibile", "dodaj do koszyka", "w magazynie", "kup teraz",
    "в корзину", "в наличии", "купить", "do košíku", "skladem", "do košíka", "lägg i varukorgen",
    "köp", "i lager", "legg i handlekurven", "på lager", "læg i kurv", "lisää ostoskoriin",
    "sepete ekle", "stokta", "in winkelwagen", "op voorraad", "adicionar ao carrinho",
    "カートに入れる", "在庫あり", "加入購物車", "加入购物车", "立即購買", "立即购买", "直接購買",
    "장바구니", "구매하기", "바로구매", "pievienot grozam", "į krepšelį", "lisa ostukorvi",
    "kosárba", "adaugă în coș", "adauga in cos", "dodaj u košaricu", "v košarico",
    "в кошик", "купити", "הוסף לסל", "הוספה לסל", "bid now", "place bid",
)  # fmt: skip


def availability_from_text(text: str | None) -> str | None:
    """Availability from visible wording (buttons, stock labels), in several languages."""
    if not text:
        return None
    low = text.lower()
    for phrases, value in (
        (OUT_OF_STOCK_PHRASES, "OutOfStock"),
        (PREORDER_PHRASES, "PreOrder"),
        (IN_STOCK_PHRASES, "InStock"),
    ):
        if any(phrase in low for phrase in phrases):
            return value
    return None
