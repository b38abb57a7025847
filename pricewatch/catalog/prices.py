"""A product's price in the feed's terms, kept on its own offer (the price door writes it).

The feed and the API speak of a list price, a sale price and Google Merchant availabilities;
the offer holds what a buyer pays now, the list price while on sale, and pricing's
availabilities. This module translates both ways.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from pricewatch.pricing.models import Availability, Offer
from pricewatch.pricing.services import Observation

# Feed availability (Google Merchant) to pricing's; an empty value says nothing.
FEED_AVAILABILITY: dict[str, str] = {
    "in_stock": Availability.IN_STOCK,
    "out_of_stock": Availability.OUT_OF_STOCK,
    "preorder": Availability.PREORDER,
    "backorder": Availability.BACKORDER,
    "": Availability.UNKNOWN,
}
# And back. Pricing's other states never come from a feed; they are shown as the nearest
# feed value (buyable: in stock; discontinued: out of stock).
_SHOWN_AVAILABILITY: dict[str, str] = {
    **{offer: feed for feed, offer in FEED_AVAILABILITY.items()},
    Availability.LIMITED: "in_stock",
    Availability.ONLINE_ONLY: "in_stock",
    Availability.IN_STORE_ONLY: "in_stock",
    Availability.DISCONTINUED: "out_of_stock",
}


def offer_availability(feed_availability: str) -> str | None:
    """Pricing's availability for a feed value; None for a value outside the feed's words."""
    return FEED_AVAILABILITY.get(feed_availability)


def feed_availability(offer_availability: str) -> str:
    """An offer's availability in the feed's words; "" when unknown."""
    return _SHOWN_AVAILABILITY.get(offer_availability, "")


class Listing(NamedTuple):
    """A product's price as the feed and the API state it, read from its offer."""

    price: Decimal | None  # the list price; None while the offer has no price yet
    sale_price: Decimal | None  # what a buyer pays now, when below the list price
    currency: str
    availability: str  # the feed's words


def listing(
    *, price: Decimal | None, regular_price: Decimal | None, currency: str, availability: str
) -> Listing:
    """The listing an offer's current price, regular price and availability stand for."""
    shown = feed_availability(availability)
    if regular_price is not None:
        return Listing(regular_price, price, currency, shown)
    return Listing(price, None, currency, shown)


def listing_of(offer: Offer) -> Listing:
    return listing(
        price=offer.price,
        regular_price=offer.regular_price,
        currency=offer.currency,
        availability=offer.availability,
    )


def effective_price(price: Decimal, sale_price: Decimal | None) -> Decimal:
    """What a buyer pays now: the sale price when there is one below the list price."""
    if sale_price is not None and sale_price < price:
        return sale_price
    return price


def observation_for(
    *,
    price: Decimal | None,
    sale_price: Decimal | None,
    currency: str,
    availability: str,
    method: str,
) -> Observation:
    """The observation a listing makes: a sale price not below the list price is no sale;
    no list price (an offer not priced yet) observes the availability alone."""
    current = None if price is None else effective_price(price, sale_price)
    return Observation(
        price=current,
        regular_price=price if current != price else None,
        currency=currency,
        availability=offer_availability(availability) or Availability.UNKNOWN,
        method=method,
    )
