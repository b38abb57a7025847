from __future__ import annotations

from decimal import Decimal

from pricewatch.pricing import services
from pricewatch.pricing.models import Availability, Offer


def make_offer(
    *,
    kind: str = Offer.Kind.PAGE,
    url: str | None = None,
    price: str | None = None,
    currency: str = "EUR",
    title: str = "A product",
) -> Offer:
    """An offer, priced through the door when `price` is given."""
    if kind == Offer.Kind.PAGE and url is None:
        url = f"https://shop.example/p/{Offer.objects.count() + 1}"
    observation = None
    if price is not None:
        observation = services.Observation(
            price=Decimal(price),
            currency=currency,
            method="test",
            availability=Availability.IN_STOCK,
        )
    return services.create_offer(kind=kind, url=url, title=title, observation=observation)
