"""A catalog product's price history: the history of its own offer.

GET /api/v1/products/{id}/history             ?from=&to=&interval=day|raw
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router

from pricewatch.catalog.models import Product
from pricewatch.core.errors import DomainError
from pricewatch.pricing import api as pricing_api
from pricewatch.pricing import selectors as pricing_selectors
from pricewatch.pricing.schemas import HistoryOut, history_payload

router = Router(tags=["prices"])


@router.get(
    "/products/{product_id}/history",
    response=HistoryOut,
    auth=pricing_api.OPTIONAL_AUTH,
    summary="A catalog product's price history",
)
def product_history(
    request: HttpRequest,
    product_id: int,
    start: date | datetime | None = Query(None, alias="from"),  # noqa: B008
    end: date | datetime | None = Query(None, alias="to"),  # noqa: B008
    interval: Literal["day", "raw"] = "day",
) -> dict[str, Any]:
    offer_id = (
        Product.objects.filter(pk=product_id, active=True)
        .values_list("offer_id", flat=True)
        .first()
    )
    if offer_id is None:
        raise DomainError(f"No product with id {product_id}.", code="not_found", status=404)
    offer = pricing_selectors.get_readable_offer(pricing_api.viewer(request), offer_id)
    result = pricing_selectors.history(
        offer, start=start, end=end, interval=interval, now=timezone.now()
    )
    return history_payload(result)
