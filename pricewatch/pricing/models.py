"""Offers, their price history and the outbox of price changes.

An offer is one place something has a price: a catalog product's own price, a tracked shop page,
an offer from the offers service. Every observation of it is a PricePoint; PriceDay keeps the
daily low / high / close so a year's chart is a few hundred rows; PriceChange is the outbox that
alerts and the live feed consume after commit. All of them are written by `pricing.services`
alone (the one door for prices).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Q


class MoneyField(models.DecimalField):
    """A decimal wide and precise enough for any currency: 14 digits, 4 decimals."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", 4)
        super().__init__(*args, **kwargs)


class Availability(models.TextChoices):
    IN_STOCK = "in_stock", "In stock"
    LIMITED = "limited", "Limited availability"
    ONLINE_ONLY = "online_only", "Online only"
    IN_STORE_ONLY = "in_store_only", "In store only"
    PREORDER = "preorder", "Pre-order"
    BACKORDER = "backorder", "Back-order"
    OUT_OF_STOCK = "out_of_stock", "Out of stock"
    DISCONTINUED = "discontinued", "Discontinued"
    UNKNOWN = "unknown", "Unknown"

    @classmethod
    def buyable(cls) -> frozenset[str]:
        """States in which the product can be bought now (what "back in stock" means)."""
        return frozenset({cls.IN_STOCK, cls.LIMITED, cls.ONLINE_ONLY, cls.IN_STORE_ONLY})


# schema.org short names (what the extractor reports) to ours.
SCHEMA_ORG_AVAILABILITY: dict[str, str] = {
    "InStock": Availability.IN_STOCK,
    "LimitedAvailability": Availability.LIMITED,
    "OnlineOnly": Availability.ONLINE_ONLY,
    "InStoreOnly": Availability.IN_STORE_ONLY,
    "PreOrder": Availability.PREORDER,
    "PreSale": Availability.PREORDER,
    "BackOrder": Availability.BACKORDER,
    "MadeToOrder": Availability.BACKORDER,
    "OutOfStock": Availability.OUT_OF_STOCK,
    "SoldOut": Availability.OUT_OF_STOCK,
    "Reserved": Availability.OUT_OF_STOCK,
    "Discontinued": Availability.DISCONTINUED,
}


class Offer(models.Model):
    class Kind(models.TextChoices):
        CATALOG = "catalog", "Catalog product"
        PAGE = "page", "Tracked shop page"
        SERVICE = "service", "Offers service"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=500, blank=True)
    image_url = models.URLField(max_length=2048, blank=True)
    # The normalised page URL for tracked pages (shared by everyone who watches it).
    # Unique through Meta.constraints (no varchar_pattern_ops index on PostgreSQL: nothing
    # looks urls up by prefix).
    # NULL, not "": many offers (catalog, offers service) have no url, and NULLs never clash.
    url = models.URLField(max_length=2048, null=True, blank=True)  # noqa: DJ001
    shop = models.CharField(max_length=255, blank=True, help_text="Shop name or host.")

    currency = models.CharField(max_length=3, blank=True)
    price = MoneyField(null=True, blank=True, help_text="Current price.")
    regular_price = MoneyField(
        null=True, blank=True, help_text="List price when the current one is a sale."
    )
    availability = models.CharField(
        max_length=16, choices=Availability.choices, default=Availability.UNKNOWN
    )
    first_price = MoneyField(null=True, blank=True)
    first_observed_at = models.DateTimeField(null=True, blank=True)
    lowest_price = MoneyField(null=True, blank=True)
    lowest_observed_at = models.DateTimeField(null=True, blank=True)
    highest_price = MoneyField(null=True, blank=True)
    highest_observed_at = models.DateTimeField(null=True, blank=True)
    last_observed_at = models.DateTimeField(null=True, blank=True)
    last_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="When price, currency or availability last changed."
    )
    observation_count = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["price"], name="offer_price"),
            models.Index(fields=["kind", "last_changed_at"], name="offer_kind_changed"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["url"], name="offer_url_unique"),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gte=0), name="offer_price_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(kind="page") | Q(url__isnull=False), name="offer_page_has_url"
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.url or f"offer {self.pk}"

    @property
    def change_from_first(self) -> Decimal | None:
        """Fractional change of the current price against the first, e.g. -0.35 for 35 % off."""
        if self.price is None or not self.first_price:
            return None
        return (self.price - self.first_price) / self.first_price


class PricePoint(models.Model):
    """One observation of an offer."""

    # Indexed by pricepoint_offer_time, which starts with it.
    offer = models.ForeignKey(
        Offer, on_delete=models.CASCADE, related_name="points", db_index=False
    )
    observed_at = models.DateTimeField()
    price = MoneyField(null=True, blank=True)
    regular_price = MoneyField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    availability = models.CharField(
        max_length=16, choices=Availability.choices, default=Availability.UNKNOWN
    )
    method = models.CharField(max_length=32, help_text="How it was obtained, e.g. feed, json-ld.")

    class Meta:
        indexes = [models.Index(fields=["offer", "observed_at"], name="pricepoint_offer_time")]

    def __str__(self) -> str:
        return f"{self.offer_id} {self.price} {self.currency} @ {self.observed_at:%Y-%m-%d %H:%M}"


class PriceDay(models.Model):
    """Daily roll-up of an offer's points (UTC days): what charts over long ranges read."""

    # Indexed by the priceday_offer_day constraint, which starts with it.
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="days", db_index=False)
    day = models.DateField()
    low = MoneyField()
    high = MoneyField()
    close = MoneyField()
    close_at = models.DateTimeField()
    currency = models.CharField(max_length=3, blank=True)
    availability = models.CharField(max_length=16, choices=Availability.choices)
    points = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["offer", "day"], name="priceday_offer_day"),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} {self.day} {self.low}..{self.high}"


class PriceChange(models.Model):
    """Outbox: one row per observation that changed an offer's price, currency or availability.

    Written in the same transaction as the point; consumers (alerts, the live feed) read it after
    commit and mark their progress themselves, so nothing rescans the history.
    """

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="changes")
    point = models.OneToOneField(PricePoint, on_delete=models.CASCADE, related_name="change")
    observed_at = models.DateTimeField()
    old_price = MoneyField(null=True, blank=True)
    new_price = MoneyField(null=True, blank=True)
    old_currency = models.CharField(max_length=3, blank=True)
    new_currency = models.CharField(max_length=3, blank=True)
    old_availability = models.CharField(max_length=16, blank=True)
    new_availability = models.CharField(max_length=16)
    first_price = MoneyField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="pricechange_created")]

    def __str__(self) -> str:
        return f"{self.offer_id}: {self.old_price} -> {self.new_price}"

    @property
    def is_first(self) -> bool:
        return self.old_price is None and self.old_availability == ""

    @property
    def price_dropped(self) -> bool:
        return (
            self.old_price is not None
            and self.new_price is not None
            and self.old_currency == self.new_currency
            and self.new_price < self.old_price
        )
