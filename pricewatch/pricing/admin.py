"""Django admin for offers and their history: read-only, because prices only ever change
through `pricing.services` (the one door)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from pricewatch.pricing.models import Offer, PriceChange, PriceDay, PricePoint


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Offer)
class OfferAdmin(ReadOnly):
    list_display = (
        "id",
        "kind",
        "title",
        "shop",
        "price",
        "currency",
        "availability",
        "first_price",
        "lowest_price",
        "last_observed_at",
    )
    list_filter = ("kind", "availability", "currency")
    search_fields = ("title", "url", "shop")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(PricePoint)
class PricePointAdmin(ReadOnly):
    list_display = ("offer", "observed_at", "price", "currency", "availability", "method")
    list_select_related = ("offer",)
    raw_id_fields = ("offer",)
    search_fields = ("=offer__id",)
    show_full_result_count = False


@admin.register(PriceDay)
class PriceDayAdmin(ReadOnly):
    list_display = ("offer", "day", "low", "high", "close", "currency", "points")
    list_select_related = ("offer",)
    search_fields = ("=offer__id",)
    show_full_result_count = False


@admin.register(PriceChange)
class PriceChangeAdmin(ReadOnly):
    list_display = ("offer", "observed_at", "old_price", "new_price", "new_currency")
    list_select_related = ("offer",)
    search_fields = ("=offer__id",)
    show_full_result_count = False
