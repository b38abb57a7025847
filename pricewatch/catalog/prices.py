"""How a product's feed or API fields become an observation of its own offer."""

from __future__ import annotations

from decimal import Decimal

from pricewatch.pricing.models import Availability
from pricewatch.pricing.services import Observation

# Feed availability (Google Merchant) to pricing's; an empty value says nothing.
FEED_AVAILABILITY: dict[str, str] = {
    "in_stock": Availability.IN_STOCK,
    "out_of_stock": Availability.OUT_OF_STOCK,
    "preorder": Availability.PREORDER,
    "backorder": Availability.BACKORDER,
    "": Availability.UNKNOWN,
}


def effective_price(price: Decimal, sale_price: Decimal | None) -> Decimal:
    """What a buyer pays now: the sale price when there is one below the list price."""
    if sale_price is not None and sale_price < price:
        return sale_price
    return price


def observation_for(
    *,
    price: Decimal,
    sale_price: Decimal | None,
    currency: str,
    availability: str,
    method: str,
) -> Observation:
    current = effective_price(price, sale_price)
    return Observation(
        price=current,
        regular_price=price if current != price else None,
        currency=currency,
        availability=FEED_AVAILABILITY.get(availability, Availability.UNKNOWN),
        method=method,
    )
