"""Django admin for the catalog: products (edited through the services), imports and notices.

Prices are shown from the product's offer and not edited here (they are history: use the API
or a feed); products are created by the API or a feed import, each with its own priced offer.
"""

from __future__ import annotations

from typing import Any

import pydantic
from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

# Imported for its side effect: registers the notice mail task in every process that loads the
# admin (web and worker both call django.setup(), which imports admin modules).
from pricewatch.catalog import (
    notifications,  # noqa: F401
    prices,
    services,
)
from pricewatch.catalog.models import ImportItem, ImportJob, NoticeBatch, Product, ProductNotice
from pricewatch.catalog.schemas import ProductPatch


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProductForm(forms.ModelForm):
    """The API's validation rules (enumerations, GTINs, URLs, lengths) apply here too."""

    link = forms.URLField(required=False, max_length=2000, assume_scheme="https")
    image_link = forms.URLField(required=False, max_length=2000, assume_scheme="https")

    class Meta:
        model = Product
        fields = (
            "title",
            "description",
            "active",
            "brand",
            "category",
            "google_product_category",
            "gender",
            "condition",
            "age_group",
            "color",
            "size",
            "gtin",
            "mpn",
            "quantity",
            "link",
            "image_link",
            "extra",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        changed = {
            name: cleaned.get(name)
            for name in self.changed_data
            if name in ProductPatch.model_fields and name in cleaned
        }
        try:
            valid = ProductPatch.model_validate(changed)
        except pydantic.ValidationError as error:
            for problem in error.errors():
                location = problem.get("loc") or ()
                field = str(location[0]) if location and location[0] in self.fields else None
                self.add_error(field, str(problem.get("msg", "Invalid value.")))
            return cleaned
        cleaned.update(valid.model_dump(exclude_unset=True))
        return cleaned


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = (
        "sku",
        "title",
        "brand",
        "category",
        "current_price",
        "currency",
        "availability",
        "active",
        "updated_at",
    )
    list_filter = (
        "active",
        "offer__availability",
        "condition",
        "gender",
        "age_group",
        "offer__currency",
    )
    search_fields = ("sku", "title", "brand", "gtin", "mpn")
    list_select_related = ("offer",)
    ordering = ("-updated_at",)
    show_full_result_count = False  # counting 100,000 rows on every page is wasted work
    readonly_fields = (
        "sku",
        "list_price",
        "sale_price",
        "currency",
        "availability",
        "current_price",
        "first_price",
        "lowest_price",
        "highest_price",
        "price_changed_at",
        "offer_link",
        "content_hash",
        "raw_hash",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("sku", "title", "description", "active")}),
        (
            "Price (read-only here: change it through the API or a feed)",
            {
                "fields": (
                    ("list_price", "sale_price", "currency", "availability"),
                    ("current_price", "first_price", "lowest_price", "highest_price"),
                    "price_changed_at",
                    "offer_link",
                )
            },
        ),
        (
            "Attributes",
            {
                "fields": (
                    ("brand", "category"),
                    "google_product_category",
                    ("gender", "condition", "age_group"),
                    ("color", "size"),
                    ("gtin", "mpn"),
                    "quantity",
                    "link",
                    "image_link",
                    "extra",
                )
            },
        ),
        ("Bookkeeping", {"fields": (("content_hash", "raw_hash"), "created_at", "updated_at")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="price")
    def list_price(self, product: Product) -> object:
        return prices.listing_of(product.offer).price

    @admin.display(description="sale price")
    def sale_price(self, product: Product) -> object:
        return prices.listing_of(product.offer).sale_price

    @admin.display(description="currency", ordering="offer__currency")
    def currency(self, product: Product) -> object:
        return product.offer.currency

    @admin.display(description="availability", ordering="offer__availability")
    def availability(self, product: Product) -> object:
        return prices.listing_of(product.offer).availability

    @admin.display(description="current price", ordering="offer__price")
    def current_price(self, product: Product) -> object:
        return product.offer.price

    @admin.display(description="first price")
    def first_price(self, product: Product) -> object:
        return product.offer.first_price

    @admin.display(description="lowest price")
    def lowest_price(self, product: Product) -> object:
        return product.offer.lowest_price

    @admin.display(description="highest price")
    def highest_price(self, product: Product) -> object:
        return product.offer.highest_price

    @admin.display(description="price last changed")
    def price_changed_at(self, product: Product) -> object:
        return product.offer.last_changed_at

    @admin.display(description="offer")
    def offer_link(self, product: Product) -> SafeString | str:
        try:
            url = reverse("admin:pricing_offer_change", args=[product.offer_id])
        except Exception:  # pricing's admin is not registered
            return str(product.offer_id)
        return format_html('<a href="{}">offer {}</a>', url, product.offer_id)

    def save_model(self, request: HttpRequest, obj: Product, form: ModelForm, change: bool) -> None:
        # Through the service: notices for the admins, the offer's title and image in step.
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        actor = request.user if request.user.is_authenticated else None
        services.update_product(product=obj, actor=actor, **changes)

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        actor = request.user if request.user.is_authenticated else None
        services.delete_product(product=obj, actor=actor)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        for product in queryset:
            self.delete_model(request, product)


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "filename",
        "status",
        "dry_run",
        "processed",
        "total",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "dry_run")
    search_fields = ("filename",)
    ordering = ("-created_at",)
    readonly_fields = ("report_link",)

    @admin.display(description="report")
    def report_link(self, job: ImportJob) -> SafeString:
        url = reverse("admin:catalog_importitem_changelist") + f"?job__id__exact={job.pk}"
        return format_html('<a href="{}">report lines of import {}</a>', url, job.pk)


@admin.register(ImportItem)
class ImportItemAdmin(ReadOnlyAdmin):
    list_display = ("job", "line", "sku", "outcome", "reason")
    list_filter = ("outcome",)
    search_fields = ("sku",)
    list_select_related = ("job",)
    ordering = ("job", "line")
    show_full_result_count = False


class ProductNoticeInline(admin.TabularInline):
    model = ProductNotice
    fields = ("action", "sku", "title", "changes", "actor_email", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(NoticeBatch)
class NoticeBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "created_at", "attempts", "sent_at", "recipients")
    list_filter = ("status",)
    ordering = ("-created_at",)
    inlines = (ProductNoticeInline,)
