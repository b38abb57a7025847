"""Visits to product pages and their daily roll-ups. No row holds an IP address."""

from __future__ import annotations

from django.db import models

from pricewatch.catalog.models import Product


class Salt(models.Model):
    """The random salt of one UTC day's visitor ids; deleted after 48 hours."""

    day = models.DateField(unique=True)
    value = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"salt of {self.day}"


class Visit(models.Model):
    """One counted view of a product; `key` is the unguessable id its beacons send."""

    key = models.CharField(max_length=32, unique=True)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="visits")
    visitor = models.CharField(max_length=32, help_text="HMAC of address, agent and site; daily.")
    session = models.CharField(max_length=32, blank=True)
    referrer_host = models.CharField(max_length=255, blank=True)
    agent_family = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=8, default="web")
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    duration_seconds = models.PositiveIntegerField(default=0)
    bounced = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["product", "-started_at"]),
            models.Index(fields=["started_at"]),
        ]

    def __str__(self) -> str:
        return f"visit {self.key} of product {self.product_id}"


class VisitorDay(models.Model):
    """Which visitor ids were already counted on a day (product 0 = the whole site).

    Visitor ids change with the daily salt, so rows older than two days are worthless and purged.
    """

    day = models.DateField()
    visitor = models.CharField(max_length=32)
    product_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "visitor", "product_id"], name="analytics_visitor_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.visitor} on {self.day}"


class ProductDay(models.Model):
    """A product's traffic on one UTC day, added to as buffered visits are written."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="visit_days")
    day = models.DateField()
    views = models.IntegerField(default=0)
    visitors = models.IntegerField(default=0, help_text="Visitor-days.")
    duration_seconds = models.BigIntegerField(default=0)
    bounces = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "day"], name="analytics_product_day_unique")
        ]
        # Covering on PostgreSQL: "popular" sums a window's views from the index alone.
        indexes = [
            models.Index(
                fields=["day", "product"],
                include=["views", "visitors"],
                name="analytics_day_product_views",
            )
        ]

    def __str__(self) -> str:
        return f"product {self.product_id} on {self.day}"


class SiteDay(models.Model):
    """The whole catalog's traffic on one UTC day."""

    day = models.DateField(unique=True)
    views = models.IntegerField(default=0)
    visitors = models.IntegerField(default=0, help_text="Visitor-days.")
    duration_seconds = models.BigIntegerField(default=0)
    bounces = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"site on {self.day}"
