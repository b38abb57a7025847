"""A product's offers from the offers service, and price trends (public reads, like the catalog).

    GET /api/v1/products/{id}/offers?include_gone=   the service's offers of a product
    GET /api/v1/products/{id}/trend?from=&to=&measure=lowest|average
    GET /api/v1/offers/{id}/trend?from=&to=          one offer's trend
An offer's history is `GET /api/v1/offers/{id}/history` (pricing's endpoint).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from pricewatch.catalog.models import Product
from pricewatch.core.errors import first_or_404
from pricewatch.offers import selectors
from pricewatch.pricing.models import Offer

router = Router(tags=["offers"])

TREND_DEFINITION = (
    "For each UTC day in [from, to] (default: the last 30 days) the value is the lowest "
    "(measure=lowest) or the average (measure=average) of the closing prices (the day's last "
    "observed price) of the offers priced that day. An offer that vanished counts up to its "
    "last day; a new one from its first day. `first` and `last` are the first and last day's "
    "values, `change_percent` = (last - first) / first * 100; null when there is no data."
)


class ServiceOfferOut(Schema):
    id: int
    external_id: str
    price: Decimal | None
    currency: str
    items_in_stock: int
    first_seen: datetime
    last_seen: datetime
    gone_at: datetime | None


class TrendQuery(Schema):
    start: date | None = Field(None, alias="from")
    end: date | None = Field(None, alias="to")
    measure: Literal["lowest", "average"] = "lowest"


class TrendOut(Schema):
    start: date
    end: date
    measure: str
    currency: str
    first: Decimal | None
    last: Decimal | None
    lowest: Decimal | None
    highest: Decimal | None
    change_percent: Decimal | None
    series: list[tuple[date, Decimal]]


def offer_rows(product_id: int, *, include_gone: bool = False) -> list[dict[str, Any]]:
    return [
        {
            "id": row.offer_id,
            "external_id": str(row.external_id),
            "price": row.offer.price,
            "currency": row.offer.currency,
            "items_in_stock": row.items_in_stock,
            "first_seen": row.first_seen_at,
            "last_seen": row.last_seen_at,
            "gone_at": row.gone_at,
        }
        for row in selectors.product_offers(product_id, include_gone=include_gone)
    ]


def _product(product_id: int) -> Product:
    return first_or_404(Product.objects.filter(active=True), product_id, noun="product")


@router.get(
    "/products/{product_id}/offers",
    response=list[ServiceOfferOut],
    auth=None,
    summary="A product's offers from the offers service",
)
def product_offers(
    request: HttpRequest, product_id: int, include_gone: bool = False
) -> list[dict[str, Any]]:
    return offer_rows(_product(product_id).pk, include_gone=include_gone)


@router.get(
    "/products/{product_id}/trend",
    response=TrendOut,
    auth=None,
    summary="The trend of a product's offer prices",
    description=TREND_DEFINITION,
)
def product_trend(request: HttpRequest, product_id: int, query: Query[TrendQuery]) -> Any:
    product = _product(product_id)
    ids = list(
        Offer.objects.filter(service_offer__registration__product=product).values_list(
            "pk", flat=True
        )
    )
    return selectors.trend(ids, start=query.start, end=query.end, measure=query.measure)


@router.get(
    "/offers/{offer_id}/trend",
    response=TrendOut,
    auth=None,
    summary="The trend of one service offer's price",
    description=TREND_DEFINITION,
)
def offer_trend(request: HttpRequest, offer_id: int, query: Query[TrendQuery]) -> Any:
    offer = first_or_404(Offer.objects.filter(kind=Offer.Kind.SERVICE), offer_id, noun="offer")
    return selectors.trend([offer.pk], start=query.start, end=query.end, measure=query.measure)
