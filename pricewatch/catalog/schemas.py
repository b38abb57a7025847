"""Product schemas: what the API accepts (validated field by field) and what it answers."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, model_validator

from pricewatch.catalog import prices
from pricewatch.catalog.feeds import CURRENCIES
from pricewatch.core import money
from pricewatch.core.api import StrictSchema

# Google Merchant's vocabularies (the feed parser's), plus "" for "not said".
Gender = Literal["male", "female", "unisex", ""]
Condition = Literal["new", "refurbished", "used", ""]
AgeGroup = Literal["newborn", "infant", "toddler", "kids", "adult", ""]
FeedAvailability = Literal["in_stock", "out_of_stock", "preorder", "backorder", ""]

MAX_EXTRA_BYTES: Final = 64 * 1024
_url_validator = URLValidator(schemes=["http", "https"])


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _no_control_characters(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" and char not in "\t\n\r" for char in value):
        raise ValueError("must not contain control characters")
    return value


def _single_line(value: str) -> str:
    if any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in value):
        raise ValueError("must be a single line without control characters")
    return value


def _http_url(value: str) -> str:
    if value == "":
        return value
    try:
        _url_validator(value)
    except DjangoValidationError:
        raise ValueError("must be an absolute http:// or https:// URL") from None
    return value


def _currency(value: str) -> str:
    code = value.upper()
    if code not in CURRENCIES:
        raise ValueError(f"'{value}' is not an ISO 4217 currency code (such as EUR, USD, AED)")
    return code


_GTIN_RE: Final = re.compile(r"[0-9]{8}|[0-9]{12,14}")


def _gtin_check_digit_ok(digits: str) -> bool:
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _gtins(value: str) -> str:
    """One or more GTINs (8, 12, 13 or 14 digits with a valid check digit), comma-separated."""
    if value == "":
        return value
    gtins = []
    for part in value.split(","):
        digits = re.sub(r"[\s-]", "", part)
        if not _GTIN_RE.fullmatch(digits):
            raise ValueError(f"'{part.strip()}' is not an 8, 12, 13 or 14-digit GTIN")
        if not _gtin_check_digit_ok(digits):
            raise ValueError(f"'{digits}' has a wrong check digit")
        gtins.append(digits)
    joined = ",".join(gtins)
    if len(joined) > 200:
        raise ValueError("at most 200 characters")
    return joined


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_EXTRA_BYTES:
        raise ValueError(f"must be at most {MAX_EXTRA_BYTES} bytes as JSON")
    return value


Sku = Annotated[
    str, BeforeValidator(_strip), Field(min_length=1, max_length=100), AfterValidator(_single_line)
]
Title = Annotated[
    str, BeforeValidator(_strip), Field(min_length=1, max_length=150), AfterValidator(_single_line)
]
Description = Annotated[
    str, BeforeValidator(_strip), Field(max_length=5000), AfterValidator(_no_control_characters)
]
Brand = Annotated[str, BeforeValidator(_strip), Field(max_length=70), AfterValidator(_single_line)]
Mpn = Brand
Category = Annotated[
    str, BeforeValidator(_strip), Field(max_length=750), AfterValidator(_single_line)
]
Attribute = Annotated[
    str, BeforeValidator(_strip), Field(max_length=100), AfterValidator(_single_line)
]
Url = Annotated[str, BeforeValidator(_strip), Field(max_length=2000), AfterValidator(_http_url)]
Gtin = Annotated[str, BeforeValidator(_strip), AfterValidator(_gtins)]
Currency = Annotated[str, BeforeValidator(_strip), AfterValidator(_currency)]
Money = Annotated[
    Decimal, Field(ge=0, max_digits=18, decimal_places=4, examples=["199.99"], allow_inf_nan=False)
]


def money_text(value: Decimal) -> str:
    """Money as a decimal string with at least two decimals: 19.9900 -> "19.99", 5 -> "5.00"."""
    return money.decimal_text(value)


MoneyOut = Annotated[Decimal, PlainSerializer(money_text, return_type=str)]
Quantity = Annotated[int, Field(ge=0, le=2_147_483_647)]
Extra = Annotated[dict[str, Any], AfterValidator(_small_json)]


class ProductIn(StrictSchema):
    """A whole product (create, or replace with PUT). Omitted optional fields are emptied."""

    sku: Sku
    title: Title
    price: Money = Field(description="List price; the current price is sale_price if lower.")
    currency: Currency
    sale_price: Money | None = None
    gtin: Gtin = ""
    mpn: Mpn = ""
    description: Description = ""
    brand: Brand = ""
    category: Category = ""
    google_product_category: Category = ""
    gender: Gender = ""
    condition: Condition = ""
    age_group: AgeGroup = ""
    color: Attribute = ""
    size: Attribute = ""
    link: Url = ""
    image_link: Url = ""
    availability: FeedAvailability = ""
    quantity: Quantity | None = None
    extra: Extra = Field(default_factory=dict)
    active: bool = True


_NOT_NULL: Final = frozenset(ProductIn.model_fields) - {"sale_price", "quantity"}


class ProductPatch(StrictSchema):
    """Some fields of a product; those not sent keep their value."""

    sku: Sku | None = None
    title: Title | None = None
    price: Money | None = None
    currency: Currency | None = None
    sale_price: Money | None = None
    gtin: Gtin | None = None
    mpn: Mpn | None = None
    description: Description | None = None
    brand: Brand | None = None
    category: Category | None = None
    google_product_category: Category | None = None
    gender: Gender | None = None
    condition: Condition | None = None
    age_group: AgeGroup | None = None
    color: Attribute | None = None
    size: Attribute | None = None
    link: Url | None = None
    image_link: Url | None = None
    availability: FeedAvailability | None = None
    quantity: Quantity | None = None
    extra: Extra | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _nulls_only_where_allowed(self) -> ProductPatch:
        for name in self.model_fields_set & _NOT_NULL:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ProductOut(Schema):
    """A product; its price fields are read from its offer, in the feed's terms."""

    id: int
    sku: str
    title: str
    brand: str
    category: str
    gender: str
    condition: str
    age_group: str
    color: str
    size: str
    link: str
    image_link: str
    availability: str = Field(description="in_stock, out_of_stock, preorder, backorder or ''.")
    price: MoneyOut | None = Field(description="List price (null until the offer has a price).")
    sale_price: MoneyOut | None = Field(description="The current price while below the list price.")
    current_price: MoneyOut | None = Field(description="What a buyer pays now (the offer's).")
    currency: str
    active: bool
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_availability(product: Any) -> str:
        return prices.listing_of(product.offer).availability

    @staticmethod
    def resolve_price(product: Any) -> Decimal | None:
        return prices.listing_of(product.offer).price

    @staticmethod
    def resolve_sale_price(product: Any) -> Decimal | None:
        return prices.listing_of(product.offer).sale_price

    @staticmethod
    def resolve_current_price(product: Any) -> Decimal | None:
        return product.offer.price

    @staticmethod
    def resolve_currency(product: Any) -> str:
        return product.offer.currency


class ProductDetailOut(ProductOut):
    gtin: str
    mpn: str
    description: str
    google_product_category: str
    quantity: int | None
    extra: dict[str, Any]
    offer_id: int
    first_price: MoneyOut | None
    first_observed_at: datetime | None
    lowest_price: MoneyOut | None
    lowest_observed_at: datetime | None
    highest_price: MoneyOut | None
    highest_observed_at: datetime | None
    price_changed_at: datetime | None

    @staticmethod
    def resolve_first_price(product: Any) -> Decimal | None:
        return product.offer.first_price

    @staticmethod
    def resolve_first_observed_at(product: Any) -> datetime | None:
        return product.offer.first_observed_at

    @staticmethod
    def resolve_lowest_price(product: Any) -> Decimal | None:
        return product.offer.lowest_price

    @staticmethod
    def resolve_lowest_observed_at(product: Any) -> datetime | None:
        return product.offer.lowest_observed_at

    @staticmethod
    def resolve_highest_price(product: Any) -> Decimal | None:
        return product.offer.highest_price

    @staticmethod
    def resolve_highest_observed_at(product: Any) -> datetime | None:
        return product.offer.highest_observed_at

    @staticmethod
    def resolve_price_changed_at(product: Any) -> datetime | None:
        return product.offer.last_changed_at


class ProductListOut(Schema):
    items: list[ProductOut]
    count: int
    page: int
    page_size: int
    pages: int
    next: str | None
    previous: str | None


class FacetValueOut(Schema):
    value: str
    count: int


class FacetOut(Schema):
    values: list[FacetValueOut]
    more: int = Field(description="Distinct values not listed (each facet lists at most 100).")


class FacetsOut(Schema):
    count: int = Field(description="Products matching every filter.")
    facets: dict[str, FacetOut]
