"""Watchlists, their items and schedules; tracked pages and every check made of them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from pricewatch.pricing.models import MoneyField


class Watchlist(models.Model):
    class ScheduleKind(models.TextChoices):
        TIMES = "times", "At times of day"
        INTERVAL = "interval", "Every few minutes"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlists"
    )
    name = models.CharField(max_length=100)
    schedule_kind = models.CharField(
        max_length=10, choices=ScheduleKind.choices, default=ScheduleKind.TIMES
    )
    # "HH:MM" strings, local to `time_zone`.
    times = models.JSONField(default=list, blank=True)
    # ISO weekdays 1 (Monday) .. 7 (Sunday); empty means every day.
    weekdays = models.JSONField(default=list, blank=True)
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="IANA zone; empty means the owner's."
    )
    interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    next_due_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("name"), "owner", name="watchlist_name_unique_per_owner"),
        ]
        indexes = [models.Index(fields=["next_due_at"], name="watchlist_due")]

    def __str__(self) -> str:
        return self.name


class WatchItem(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="items")
    offer = models.ForeignKey("pricing.Offer", on_delete=models.CASCADE, related_name="watchers")
    target_price = MoneyField(null=True, blank=True)
    note = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["watchlist", "offer"], name="watchitem_once_per_list"),
            models.CheckConstraint(
                condition=Q(target_price__isnull=True) | Q(target_price__gte=0),
                name="watchitem_target_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.watchlist_id}: {self.offer_id}"


class Page(models.Model):
    """The fetching side of a tracked shop page (one per `Offer` of kind page).

    `due_at` set means a check is wanted; the dispatcher leases the row (`leased_until`) when it
    enqueues the check, and the check clears `due_at` when it has run. A lost task leaves the row
    due, so it is leased again once the lease runs out.
    """

    offer = models.OneToOneField(
        "pricing.Offer", on_delete=models.CASCADE, primary_key=True, related_name="page"
    )
    # Not indexed: nothing looks pages up by domain, and the dispatcher updates many Page rows
    # per run (marking them due, leasing them), each update paying for every index.
    domain = models.CharField(max_length=255)
    due_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=16, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], name="page_due", condition=Q(due_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"page {self.offer_id} ({self.domain})"


class Check(models.Model):
    """One attempt to read a page's price: what happened, how long it took, what was found."""

    class Status(models.TextChoices):
        OK = "ok", "Price found"
        NO_PRICE = "no_price", "No price on the page"
        UNCONFIRMED = "unconfirmed", "Implausible price not confirmed"
        ERROR = "error", "Fetch failed"

    class Trigger(models.TextChoices):
        FIRST = "first", "First fetch"
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Check now"

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="checks")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=12, choices=Status.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    bytes = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=1)
    method = models.CharField(max_length=32, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    price = MoneyField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    availability = models.CharField(max_length=16, blank=True)

    class Meta:
        indexes = [models.Index(fields=["page", "started_at"], name="check_page_time")]

    def __str__(self) -> str:
        return f"check {self.page_id} {self.status} @ {self.started_at:%Y-%m-%d %H:%M}"


class SiteRule(models.Model):
    """Per-domain extraction and fetching settings an admin (or the owner of items) can set."""

    domain = models.CharField(max_length=255, unique=True, help_text="e.g. shop.example")
    price_selector = models.CharField(max_length=500, blank=True, help_text="CSS or XPath.")
    regular_price_selector = models.CharField(max_length=500, blank=True)
    availability_selector = models.CharField(max_length=500, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    decimal_separator = models.CharField(max_length=1, blank=True)
    render_javascript = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.domain
