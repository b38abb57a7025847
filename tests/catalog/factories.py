"""Products for tests, made through the catalog's own services (so each has its priced offer)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from pricewatch.catalog import services
from pricewatch.catalog.models import Product, ProductNotice
from tests.accounts.conftest import Api
from tests.accounts.factories import UserFactory

_skus = itertools.count(1)


def make_product(**fields: Any) -> Product:
    """A product with sensible defaults; any field can be given. Leaves no admin notice."""
    values: dict[str, Any] = {
        "sku": f"SKU-{next(_skus):05d}",
        "title": "Stainless steel bottle",
        "price": Decimal("20.00"),
        "currency": "EUR",
        "availability": "in_stock",
    }
    values.update(fields)
    for name in ("price", "sale_price"):
        if isinstance(values.get(name), str | int):
            values[name] = Decimal(values[name])
    product = services.create_product(actor=None, **values)
    ProductNotice.objects.filter(product=product).delete()
    return product


def product_body(**fields: Any) -> dict[str, Any]:
    """A valid POST body."""
    body: dict[str, Any] = {
        "sku": f"API-{next(_skus):05d}",
        "title": "Water bottle 750 ml",
        "price": "19.99",
        "currency": "EUR",
        "availability": "in_stock",
        "brand": "Hydra",
    }
    body.update(fields)
    return body


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def admin_token(api: Api, db: None) -> str:
    admin = UserFactory(is_staff=True, email="admin@example.com")
    return str(api.login(admin.email)["access_token"])


@pytest.fixture
def user_token(api: Api, db: None) -> str:
    user = UserFactory()
    return str(api.login(user.email)["access_token"])


@pytest.fixture
def without_facet_index(settings: Any) -> None:
    """Counts, facets and pages from the database alone (catalog.facet_index off)."""
    settings.CATALOG_FACET_INDEX_MAX_PRODUCTS = 0


def catalog_state() -> tuple[int, int, int, int, int]:
    """Row counts of everything an import writes: equal before and after means untouched."""
    from pricewatch.pricing.models import Offer, PriceChange, PriceDay, PricePoint

    return (
        Product.objects.count(),
        Offer.objects.count(),
        PricePoint.objects.count(),
        PriceChange.objects.count(),
        PriceDay.objects.count(),
    )
