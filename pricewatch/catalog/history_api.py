"""A catalog product's price history: the history of its own offer.

GET /api/v1/products/{id}/history             ?from=&to=&interval=day|raw
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from pricewatch.catalog.models import Product
from pricewatch.core.errors import DomainError
from pricewatch.pricing import api as pricing_api
from pricewatch.pricing import selectors as pricing_selectors
from pricewatch.pricing.schemas import HistoryOut, HistoryQuery

router = Router(tags=["prices"])


@router.get(
    "/products/{product_id}/history",
    response=HistoryOut,
    auth=pricing_api.OPTIONAL_AUTH,
    summary="A catalog product's price history",
)
def product_history(
    request: HttpRequest, product_id: int, query: Query[HistoryQuery]
) -> dict[str, Any]:
    offer_id = (
        Product.objects.filter(pk=product_id, active=True)
        .values_list("offer_id", flat=True)
        .first()
    )
    if offer_id is None:
        raise DomainError(f"No product with id {product_id}.", code="not_found", status=404)
    offer = pricing_selectors.get_readable_offer(pricing_api.viewer(request), offer_id)
    return pricing_api.history_answer(offer, query)
