"""Django admin for watchlists, tracked pages, their checks and per-site rules."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from pricewatch.tracking.models import Check, Page, SiteRule, WatchItem, Watchlist


class WatchItemInline(admin.TabularInline):
    model = WatchItem
    extra = 0
    raw_id_fields = ("offer",)
    fields = ("offer", "target_price", "note", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "owner",
        "schedule_kind",
        "times",
        "interval_minutes",
        "paused",
        "next_due_at",
        "items",
    )
    list_filter = ("schedule_kind", "paused")
    search_fields = ("name", "owner__email")
    raw_id_fields = ("owner",)
    list_select_related = ("owner",)
    inlines = (WatchItemInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Watchlist]:
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(ordering="item_count")
    def items(self, watchlist: Any) -> int:
        return int(watchlist.item_count)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Page)
class PageAdmin(ReadOnly):
    list_display = (
        "offer",
        "domain",
        "last_status",
        "last_checked_at",
        "consecutive_failures",
        "due_at",
        "leased_until",
    )
    list_filter = ("last_status",)
    search_fields = ("domain", "offer__url")
    list_select_related = ("offer",)
    show_full_result_count = False


@admin.register(Check)
class CheckAdmin(ReadOnly):
    list_display = (
        "page",
        "started_at",
        "trigger",
        "status",
        "http_status",
        "error_code",
        "duration_ms",
        "method",
        "price",
        "currency",
    )
    list_filter = ("status", "trigger", "error_code")
    search_fields = ("=page__offer__id", "page__domain")
    list_select_related = ("page",)
    date_hierarchy = "started_at"
    show_full_result_count = False


@admin.register(SiteRule)
class SiteRuleAdmin(admin.ModelAdmin):
    list_display = ("domain", "price_selector", "currency", "render_javascript", "updated_at")
    search_fields = ("domain",)
    raw_id_fields = ("created_by",)
