"""Products: public reads (list, facets, detail), admin writes (create, replace, change, delete)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import AuthenticationError

from pricewatch.accounts.models import User
from pricewatch.catalog import prices, selectors, services
from pricewatch.catalog.filters import ProductFilters
from pricewatch.catalog.models import Product
from pricewatch.catalog.schemas import (
    FacetsOut,
    ProductDetailOut,
    ProductIn,
    ProductListOut,
    ProductPatch,
    money_text,
)
from pricewatch.core.api import ErrorOut, api
from pricewatch.core.auth import access_token, staff_access_token
from pricewatch.core.errors import DomainError

router = Router(tags=["catalog"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS = {**ERRORS, 409: ErrorOut}


class ProductFilterQuery(Schema):
    brand: list[str] = Field(default_factory=list, description="Repeat for several (OR).")
    category: list[str] = Field(default_factory=list)
    gender: list[str] = Field(default_factory=list)
    condition: list[str] = Field(default_factory=list)
    availability: list[str] = Field(default_factory=list)
    color: list[str] = Field(default_factory=list)
    colour: list[str] = Field(default_factory=list, description="Same as color.")
    size: list[str] = Field(default_factory=list)
    sku: list[str] = Field(default_factory=list)
    price_min: Decimal | None = Field(None, ge=0, description="Current price at least this.")
    price_max: Decimal | None = Field(None, ge=0, description="Current price at most this.")
    q: str = Field("", max_length=200, description="Words to find in title, description, …")
    active: Literal["true", "false", "all"] = Field(
        "true", description="Inactive products ('false', 'all') are for admins only."
    )


class ProductListQuery(ProductFilterQuery):
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=100)
    ordering: str | None = Field(
        None,
        description="title, price, created, updated or brand; '-' for descending; "
        "comma-separate for several. Default: -created.",
    )


def _viewer_is_admin(request: HttpRequest) -> bool:
    """Public endpoints: anonymous is fine, but a token that is sent must be valid."""
    if not request.headers.get("Authorization"):
        return False
    if not access_token(request):
        raise AuthenticationError()
    user = request.user
    return bool(user.is_authenticated and user.is_staff)


def _filters(request: HttpRequest, query: ProductFilterQuery) -> ProductFilters:
    is_admin = _viewer_is_admin(request)
    low, high = query.price_min, query.price_max
    if low is not None and high is not None and low > high:
        raise DomainError(
            "price_min must not be greater than price_max.",
            fields={"price_min": "Greater than price_max."},
        )
    active: bool | None = {"true": True, "false": False, "all": None}[query.active]
    if active is not True and not is_admin:
        if not request.headers.get("Authorization"):
            raise DomainError(
                "Only administrators can list inactive products; send an admin's access token.",
                code="not_authenticated",
                status=401,
            )
        raise DomainError(
            "Only administrators can list inactive products.",
            code="permission_denied",
            status=403,
        )
    return ProductFilters(
        brand=tuple(query.brand),
        category=tuple(query.category),
        gender=tuple(query.gender),
        condition=tuple(query.condition),
        availability=tuple(query.availability),
        color=tuple(dict.fromkeys([*query.color, *query.colour])),
        size=tuple(query.size),
        sku=tuple(query.sku),
        price_min=query.price_min,
        price_max=query.price_max,
        q=query.q,
        active=active,
    )


def _page_link(request: HttpRequest, page: int) -> str:
    params = request.GET.copy()
    params["page"] = str(page)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


@router.get(
    "/products",
    response={200: ProductListOut, **ERRORS},
    summary="List products (filters, search, ordering, pages)",
)
def list_products(request: HttpRequest, query: Query[ProductListQuery]) -> HttpResponse:
    filters = _filters(request, query)
    ordering = selectors.parse_ordering(query.ordering)
    page = selectors.product_row_page(
        filters=filters, ordering=ordering, page=query.page, page_size=query.page_size
    )
    payload = {
        "items": [_list_item(row) for row in page.items],
        "count": page.count,
        "page": page.page,
        "page_size": page.page_size,
        "pages": page.pages,
        "next": _page_link(request, page.page + 1) if page.has_next else None,
        "previous": _page_link(request, page.page - 1) if page.has_previous else None,
    }
    # Rendered without Ninja's validation of the output: checking 50 rows field by field cost
    # more than the query. `_list_item` builds exactly `ProductOut` (a test holds the two
    # together); the OpenAPI document still describes the response with ProductListOut.
    return api.create_response(request, payload, status=200)


def _list_item(row: selectors.ProductRow) -> dict[str, Any]:
    """A `product_row_page` row as `ProductOut` renders a product, key for key."""
    listed = prices.listing(
        price=row.offer_price,
        regular_price=row.offer_regular_price,
        currency=row.offer_currency,
        availability=row.offer_availability,
    )
    return {
        "id": row.id,
        "sku": row.sku,
        "title": row.title,
        "brand": row.brand,
        "category": row.category,
        "gender": row.gender,
        "condition": row.condition,
        "age_group": row.age_group,
        "color": row.color,
        "size": row.size,
        "link": row.link,
        "image_link": row.image_link,
        "availability": listed.availability,
        "price": _money(listed.price),
        "sale_price": _money(listed.sale_price),
        "current_price": _money(row.offer_price),
        "currency": listed.currency,
        "active": row.active,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money_text(value)


@router.get(
    "/products/facets",
    response={200: FacetsOut, **ERRORS},
    summary="Facet counts: distinct values with counts under the other filters",
)
def product_facets(request: HttpRequest, query: Query[ProductFilterQuery]) -> selectors.Facets:
    return selectors.cached_product_facets(_filters(request, query))


def _visible(request: HttpRequest, product: Product) -> Product:
    is_admin = _viewer_is_admin(request)
    if not product.active and not is_admin:
        raise DomainError("No such product.", code="not_found", status=404)
    return product


@router.get(
    "/products/{int:product_id}",
    response={200: ProductDetailOut, **ERRORS},
    summary="One product, with its current, first, lowest and highest price",
)
def get_product(request: HttpRequest, product_id: int) -> Product:
    return _visible(request, selectors.product_detail(product_id=product_id))


@router.get(
    "/products/sku/{path:sku}",
    response={200: ProductDetailOut, **ERRORS},
    summary="One product by its sku (the feed's id)",
)
def get_product_by_sku(request: HttpRequest, sku: str) -> Product:
    return _visible(request, selectors.product_detail(sku=sku))


def _admin(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@router.post(
    "/products",
    response={201: ProductDetailOut, **WRITE_ERRORS},
    auth=staff_access_token,
    summary="Create a product (admins)",
)
def create_product(request: HttpRequest, payload: ProductIn) -> Status[Product]:
    product = services.create_product(actor=_admin(request), **payload.model_dump())
    return Status(201, selectors.product_detail(product_id=product.pk))


@router.put(
    "/products/{int:product_id}",
    response={200: ProductDetailOut, **WRITE_ERRORS},
    auth=staff_access_token,
    summary="Replace a product (admins); omitted optional fields are emptied",
)
def replace_product(request: HttpRequest, product_id: int, payload: ProductIn) -> Product:
    product = selectors.product_detail(product_id=product_id)
    services.replace_product(product=product, actor=_admin(request), **payload.model_dump())
    return selectors.product_detail(product_id=product_id)


@router.patch(
    "/products/{int:product_id}",
    response={200: ProductDetailOut, **WRITE_ERRORS},
    auth=staff_access_token,
    summary="Change some fields of a product (admins)",
)
def update_product(request: HttpRequest, product_id: int, payload: ProductPatch) -> Product:
    product = selectors.product_detail(product_id=product_id)
    services.update_product(
        product=product, actor=_admin(request), **payload.model_dump(exclude_unset=True)
    )
    return selectors.product_detail(product_id=product_id)


@router.delete(
    "/products/{int:product_id}",
    response={204: None, **ERRORS},
    auth=staff_access_token,
    summary="Delete a product and its price history (admins)",
)
def delete_product(request: HttpRequest, product_id: int) -> HttpResponse:
    product = selectors.product_detail(product_id=product_id)
    services.delete_product(product=product, actor=_admin(request))
    return HttpResponse(status=204)
