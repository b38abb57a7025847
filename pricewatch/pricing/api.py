"""Offers and their price history.

    GET /api/v1/offers?min_drop=30                offers you may read, optionally only those
                                                  at least 30 % below their first price
    GET /api/v1/offers/{id}                       one offer: current, first, lowest, highest
    GET /api/v1/offers/{id}/history               ?from=&to=&interval=day|raw

Catalog offers are public (no token needed); a tracked page only to those who watch it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router

from pricewatch.core.auth import access_token
from pricewatch.pricing import selectors
from pricewatch.pricing.models import Offer
from pricewatch.pricing.schemas import (
    HistoryOut,
    HistoryQuery,
    OfferOut,
    OfferPageOut,
    history_payload,
    offer_payload,
)

router = Router(tags=["prices"])


def _anonymous(request: HttpRequest) -> Any:
    # Tried after the token: no (valid) token reads as an anonymous visitor, who may still see
    # public offers.
    return "anonymous"


OPTIONAL_AUTH = [access_token, _anonymous]


def viewer(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


@router.get(
    "/offers",
    response=OfferPageOut,
    auth=OPTIONAL_AUTH,
    summary="Offers you may read, e.g. those at least 30 % below their first price",
)
def list_offers(
    request: HttpRequest,
    min_drop: Decimal | None = Query(None, description="Percent below the first price."),  # noqa: B008
    kind: Literal["catalog", "page", "service"] | None = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    offers = selectors.readable_offers(viewer(request))
    if kind:
        offers = offers.filter(kind=kind)
    if min_drop is not None:
        offers = selectors.offers_below_first(percent=min_drop, offers=offers)
    offers = offers.order_by("id")
    count = offers.count()
    pages = max(1, -(-count // page_size))
    rows = offers[(page - 1) * page_size : page * page_size]
    return {
        "items": [offer_payload(offer) for offer in rows],
        "count": count,
        "page": page,
        "pages": pages,
    }


@router.get("/offers/{offer_id}", response=OfferOut, auth=OPTIONAL_AUTH, summary="One offer")
def get_offer(request: HttpRequest, offer_id: int) -> dict[str, Any]:
    return offer_payload(selectors.get_readable_offer(viewer(request), offer_id))


@router.get(
    "/offers/{offer_id}/history",
    response=HistoryOut,
    auth=OPTIONAL_AUTH,
    summary="An offer's price history, daily (low, high, close) or every point",
)
def offer_history(
    request: HttpRequest, offer_id: int, query: Query[HistoryQuery]
) -> dict[str, Any]:
    return history_answer(selectors.get_readable_offer(viewer(request), offer_id), query)


def history_answer(offer: Offer, query: HistoryQuery) -> dict[str, Any]:
    """The history payload of `offer` for a parsed ?from=&to=&interval= query."""
    result = selectors.history(
        offer, start=query.start, end=query.end, interval=query.interval, now=timezone.now()
    )
    return history_payload(result)
