"""Django admin for deliveries: read-only, since only `core.delivery` may move them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from pricewatch.core.models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("key", "status", "attempts", "sent_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("key",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
