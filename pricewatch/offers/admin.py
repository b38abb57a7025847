from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from pricewatch.offers import services
from pricewatch.offers.models import Registration, ServiceOffer


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = ("product", "uuid", "status", "last_error", "polled_at", "poll_error")
    list_filter = ("status",)
    raw_id_fields = ("product",)
    actions = ("register_again",)

    @admin.action(description="Register again with the offers service")
    def register_again(self, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
        count = services.requeue(product_ids=list(queryset.values_list("product_id", flat=True)))
        self.message_user(request, f"{count} registrations queued.")


@admin.register(ServiceOffer)
class ServiceOfferAdmin(admin.ModelAdmin):
    list_display = ("external_id", "registration", "items_in_stock", "last_seen_at", "gone_at")
    raw_id_fields = ("registration", "offer")
