"""Writes to the catalog made by people (the API, the Django admin): create, change, delete.

A product's price, sale price, currency and availability live on its own offer and go through
the one door (`pricing.services`): a new product's offer gets a first observation, a change of
any of them is a new observation. Every change is also left as a ProductNotice for the admins'
batched mail (`pricewatch.catalog.notifications`), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from django.db import IntegrityError, transaction

from pricewatch.accounts.models import User
from pricewatch.catalog import prices, selectors
from pricewatch.catalog.models import Product, ProductNotice
from pricewatch.catalog.schemas import money_text
from pricewatch.core.errors import Conflict, DomainError
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Offer

# Every field a person may set, with the value it takes when a replacement (PUT) omits it.
EDITABLE_DEFAULTS: Final[dict[str, Any]] = {
    "gtin": "",
    "mpn": "",
    "description": "",
    "brand": "",
    "category": "",
    "google_product_category": "",
    "gender": "",
    "condition": "",
    "age_group": "",
    "color": "",
    "size": "",
    "link": "",
    "image_link": "",
    "availability": "",
    "quantity": None,
    "sale_price": None,
    "extra": {},
    "active": True,
}
REQUIRED: Final = ("sku", "title", "price", "currency")
EDITABLE: Final = (*REQUIRED, *EDITABLE_DEFAULTS)
# Fields stored on the product's offer (through the price door), not on the product.
PRICE_FIELDS: Final = frozenset({"price", "sale_price", "currency", "availability"})
METHOD: Final = "api"


def _check_consistent(values: Mapping[str, Any]) -> None:
    """Rules across fields, checked on the merged result (a PATCH may change one side only)."""
    sale_price, price = values.get("sale_price"), values.get("price")
    if sale_price is not None and price is not None and sale_price > price:
        raise DomainError(
            "sale_price must not be higher than price.",
            code="invalid",
            status=422,
            fields={"sale_price": "Must not be higher than price."},
        )


def _sku_taken(sku: str) -> Conflict:
    return Conflict(
        f"A product with sku '{sku}' already exists.",
        code="sku_taken",
        fields={"sku": "Already used by another product."},
    )


def _notice(
    *, action: str, product: Product, actor: User | None, changes: dict[str, Any] | None = None
) -> ProductNotice:
    return ProductNotice.objects.create(
        action=action,
        product=product if action != ProductNotice.Action.DELETED else None,
        sku=product.sku,
        title=product.title,
        changes=changes or {},
        actor=actor,
        actor_email=actor.email if actor is not None else "",
    )


def _shown(value: Any) -> Any:
    """A value as the admins' mail shows it (JSON-safe, long text shortened)."""
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, str) and len(value) > 80:
        return value[:77] + "..."
    return value


def _current(product: Product) -> dict[str, Any]:
    """Every editable field's value: the product's own, and the price fields from its offer."""
    values = {name: getattr(product, name) for name in EDITABLE if name not in PRICE_FIELDS}
    values.update(prices.listing_of(product.offer)._asdict())
    return values


def _observation(values: Mapping[str, Any]) -> pricing.Observation:
    return prices.observation_for(
        price=values["price"],
        sale_price=values["sale_price"],
        currency=values["currency"],
        availability=values["availability"],
        method=METHOD,
    )


def create_product(*, actor: User | None, **fields: Any) -> Product:
    """Create a product and its own offer (first price observation) in one transaction."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise DomainError(f"Unknown product fields: {', '.join(sorted(unknown))}.")
    missing = [name for name in REQUIRED if fields.get(name) in (None, "")]
    if missing:
        raise DomainError(f"Required: {', '.join(missing)}.", code="invalid", status=422)
    values = {**EDITABLE_DEFAULTS, **fields}
    _check_consistent(values)
    with transaction.atomic():
        if Product.objects.filter(sku=values["sku"]).exists():
            raise _sku_taken(values["sku"])
        offer = pricing.create_offer(
            kind=Offer.Kind.CATALOG,
            title=values["title"],
            image_url=values["image_link"],
            observation=_observation(values),
        )
        columns = {name: value for name, value in values.items() if name not in PRICE_FIELDS}
        try:
            with transaction.atomic():
                product = Product.objects.create(offer=offer, content_hash="", **columns)
        except IntegrityError as error:  # a concurrent create won the race for the sku
            raise _sku_taken(values["sku"]) from error
        _notice(action=ProductNotice.Action.CREATED, product=product, actor=actor)
        transaction.on_commit(selectors.forget_cached_facets)
    return product


def replace_product(*, product: Product, actor: User | None, **fields: Any) -> Product:
    """PUT: every editable field takes the given value, or its default when omitted."""
    missing = [name for name in REQUIRED if fields.get(name) in (None, "")]
    if missing:
        raise DomainError(f"Required: {', '.join(missing)}.", code="invalid", status=422)
    return update_product(product=product, actor=actor, **{**EDITABLE_DEFAULTS, **fields})


def update_product(*, product: Product, actor: User | None, **changes: Any) -> Product:
    """PATCH: change the given fields; a price change is recorded as a new observation."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(f"Unknown product fields: {', '.join(sorted(unknown))}.")
    for name in REQUIRED:
        if name in changes and changes[name] in (None, ""):
            raise DomainError(
                f"{name} cannot be empty.",
                code="invalid",
                status=422,
                fields={name: "This field cannot be empty."},
            )
    with transaction.atomic():
        # The offer's row is locked too: its price is read here and moved by the door below.
        locked = Product.objects.select_for_update().select_related("offer").get(pk=product.pk)
        current = _current(locked)
        changed = {
            name: (current[name], value)
            for name, value in changes.items()
            if current[name] != value
        }
        merged = {**current, **changes}
        _check_consistent(merged)
        if not changed:
            return locked
        if "sku" in changed and Product.objects.filter(sku=changes["sku"]).exists():
            raise _sku_taken(changes["sku"])
        columns = [name for name in changed if name not in PRICE_FIELDS]
        for name in columns:
            setattr(locked, name, changes[name])
        # The next feed import compares afresh: the product no longer is what its item said.
        locked.content_hash = locked.raw_hash = ""
        try:
            with transaction.atomic():
                locked.save(update_fields=[*columns, "content_hash", "raw_hash", "updated_at"])
        except IntegrityError as error:
            raise _sku_taken(changes["sku"]) from error
        if PRICE_FIELDS & set(changed):
            observation = _observation(merged)
            pricing.record_price(
                locked.offer,
                price=observation.price,
                currency=observation.currency,
                method=observation.method,
                availability=observation.availability,
                regular_price=observation.regular_price,
            )
        if {"title", "image_link"} & set(changed):
            pricing.describe_offer(
                offer=locked.offer, title=locked.title, image_url=locked.image_link
            )
        _notice(
            action=ProductNotice.Action.UPDATED,
            product=locked,
            actor=actor,
            changes={name: [_shown(old), _shown(new)] for name, (old, new) in changed.items()},
        )
        transaction.on_commit(selectors.forget_cached_facets)
    return locked


def delete_product(*, product: Product, actor: User | None) -> None:
    """Delete a product and its offer (with the offer's price history) together."""
    with transaction.atomic():
        locked = Product.objects.select_for_update().filter(pk=product.pk).first()
        if locked is None:
            raise DomainError("No such product.", code="not_found", status=404)
        _notice(action=ProductNotice.Action.DELETED, product=locked, actor=actor)
        offer_id = locked.offer_id
        locked.delete()
        Offer.objects.filter(pk=offer_id).delete()
        transaction.on_commit(selectors.forget_cached_facets)
