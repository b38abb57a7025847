"""The product list: pages, filters, price range, ordering, inactive products, query counts."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pricewatch.catalog import selectors
from tests.accounts.conftest import Api
from tests.catalog import factories
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

api = factories.api
admin_token = factories.admin_token
user_token = factories.user_token
without_facet_index = factories.without_facet_index

URL = "/api/v1/products"


def skus(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["sku"] for item in response.json()["items"]]


def test_pages_have_count_pages_and_links_that_keep_the_filters(api: Api) -> None:
    for n in range(5):
        make_product(sku=f"P{n}", brand="Acme", title=f"T{n}")
    make_product(sku="OTHER", brand="Other")

    first = api.call("GET", f"{URL}?brand=Acme&page_size=2&ordering=title").json()

    assert [item["sku"] for item in first["items"]] == ["P0", "P1"]
    assert (first["count"], first["page"], first["pages"], first["page_size"]) == (5, 1, 3, 2)
    assert first["previous"] is None
    next_url = urlsplit(first["next"])
    assert next_url.path == URL
    assert parse_qs(next_url.query) == {
        "brand": ["Acme"],
        "page_size": ["2"],
        "ordering": ["title"],
        "page": ["2"],
    }
    last = api.call("GET", f"{URL}?brand=Acme&page_size=2&ordering=title&page=3").json()
    assert [item["sku"] for item in last["items"]] == ["P4"]
    assert last["next"] is None
    assert parse_qs(urlsplit(last["previous"]).query)["page"] == ["2"]


def test_the_default_page_size_is_20_and_the_list_is_newest_first(api: Api) -> None:
    for n in range(21):
        make_product(sku=f"S{n:02d}")

    body = api.call("GET", URL).json()

    assert len(body["items"]) == 20 and body["pages"] == 2
    assert body["items"][0]["sku"] == "S20"


def test_a_page_past_the_end_is_404_but_an_empty_first_page_is_not(api: Api) -> None:
    make_product()

    past = api.call("GET", f"{URL}?page=2")
    empty = api.call("GET", f"{URL}?brand=Nobody")

    assert past.status_code == 404
    assert past.json()["code"] == "invalid_page"
    assert empty.status_code == 200
    assert (empty.json()["count"], empty.json()["pages"], empty.json()["items"]) == (0, 1, [])


@pytest.mark.parametrize(
    "query",
    ["page_size=101", "page_size=0", "page=0", "page=-1", "page=abc", "price_min=-1", "active=x"],
)
def test_bad_paging_and_filter_values_are_422(api: Api, query: str) -> None:
    response = api.call("GET", f"{URL}?{query}")

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid"


def test_price_min_above_price_max_is_400(api: Api) -> None:
    response = api.call("GET", f"{URL}?price_min=10&price_max=5")

    assert response.status_code == 400
    assert "price_min" in response.json()["fields"]


def test_filters_or_within_a_field_and_across_fields(api: Api) -> None:
    make_product(sku="A-RED", brand="A", color="red")
    make_product(sku="A-BLUE", brand="A", color="blue")
    make_product(sku="B-RED", brand="B", color="red")
    make_product(sku="C-RED", brand="C", color="red")

    both_brands = skus(api.call("GET", f"{URL}?brand=A&brand=B&ordering=title,-price"))
    red_of_both = skus(api.call("GET", f"{URL}?brand=A&brand=B&colour=red&ordering=brand"))

    assert sorted(both_brands) == ["A-BLUE", "A-RED", "B-RED"]
    assert red_of_both == ["A-RED", "B-RED"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("category", "Home > Cups"),
        ("gender", "female"),
        ("condition", "used"),
        ("availability", "preorder"),
        ("color", "teal"),
        ("size", "XL"),
        ("sku", "THE-ONE"),
    ],
)
def test_each_filter_narrows_the_list(api: Api, field: str, value: str) -> None:
    make_product(**{field: value, "sku": "THE-ONE"})
    make_product(sku="NOT-IT")

    assert skus(api.call("GET", f"{URL}?{field}={value}")) == ["THE-ONE"]


def test_price_range_uses_the_current_price(api: Api) -> None:
    make_product(sku="CHEAP", price="10")
    make_product(sku="ON-SALE", price="100", sale_price="20")  # pays 20 now
    make_product(sku="DEAR", price="100")

    found = skus(api.call("GET", f"{URL}?price_min=15&price_max=50"))

    assert found == ["ON-SALE"]


@pytest.mark.parametrize("costly", ["SORT_ROW_COST", "WALK_ROW_COST"], ids=["walk", "sort"])
def test_ordering_by_price_title_brand_created_updated(
    api: Api, costly: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, costly, 10**9)  # both query shapes (PostgreSQL)
    make_product(sku="X1", title="b", brand="z", price="30")
    make_product(sku="X2", title="a", brand="y", price="10", sale_price="5")
    make_product(sku="X3", title="c", brand="x", price="20")

    assert skus(api.call("GET", f"{URL}?ordering=price")) == ["X2", "X3", "X1"]
    assert skus(api.call("GET", f"{URL}?ordering=-price")) == ["X1", "X3", "X2"]
    assert skus(api.call("GET", f"{URL}?ordering=title")) == ["X2", "X1", "X3"]
    assert skus(api.call("GET", f"{URL}?ordering=-brand")) == ["X1", "X2", "X3"]
    assert skus(api.call("GET", f"{URL}?ordering=created")) == ["X1", "X2", "X3"]
    assert skus(api.call("GET", f"{URL}?ordering=-updated")) == ["X3", "X2", "X1"]


def test_an_unknown_ordering_is_400_naming_the_allowed_ones(api: Api) -> None:
    response = api.call("GET", f"{URL}?ordering=-popularity")

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "-popularity" in detail
    for name in ("title", "price", "created", "updated", "brand"):
        assert name in detail


def test_inactive_products_are_listed_for_admins_only(
    api: Api, admin_token: str, user_token: str
) -> None:
    make_product(sku="LIVE")
    make_product(sku="HIDDEN", active=False)

    assert skus(api.call("GET", URL)) == ["LIVE"]
    assert skus(api.call("GET", f"{URL}?active=true", token=admin_token)) == ["LIVE"]
    assert skus(api.call("GET", f"{URL}?active=false", token=admin_token)) == ["HIDDEN"]
    assert sorted(skus(api.call("GET", f"{URL}?active=all", token=admin_token))) == [
        "HIDDEN",
        "LIVE",
    ]
    assert api.call("GET", f"{URL}?active=false").status_code == 401
    assert api.call("GET", f"{URL}?active=all", token=user_token).status_code == 403


@pytest.mark.parametrize("index", [True, False], ids=["facet-index", "database"])
def test_the_list_answers_with_two_queries_whatever_the_page_size(
    api: Api, index: bool, settings: Any, django_assert_max_num_queries: Any
) -> None:
    if not index:
        settings.CATALOG_FACET_INDEX_MAX_PRODUCTS = 0
    for n in range(30):
        make_product(sku=f"Q{n}", brand="Acme", price=str(n + 1))
    query = "brand=Acme&availability=in_stock&price_min=1&ordering=-price&q=bottle"
    api.call("GET", f"{URL}?{query}&page_size=2")  # builds the facet index, finds the search

    # Database: the count and the page, offers joined. Index: is it current, the page's rows.
    with django_assert_max_num_queries(2):
        body = api.call("GET", f"{URL}?{query}&page_size=30").json()

    assert len(body["items"]) == 30
    assert body["items"][0]["current_price"] == "30.00"


def test_a_filtered_list_adds_at_most_the_cached_catalog_size(
    api: Api, without_facet_index: None, django_assert_max_num_queries: Any
) -> None:
    """PostgreSQL weighs sorting the matches against walking an index with the catalog's
    size, counted once per cache period: three queries the first time, then two."""
    for n in range(30):
        make_product(sku=f"R{n}", brand="Acme" if n % 2 else "Other", price=str(n + 1))

    with django_assert_max_num_queries(3):
        first = api.call("GET", f"{URL}?brand=Acme&ordering=price&page_size=5").json()
    with django_assert_max_num_queries(2):
        other = api.call("GET", f"{URL}?brand=Other&ordering=-title&page_size=5").json()

    assert [item["sku"] for item in first["items"]] == ["R1", "R3", "R5", "R7", "R9"]
    assert first["count"] == other["count"] == 15


def test_the_second_page_reuses_the_cached_count(
    api: Api, without_facet_index: None, django_assert_max_num_queries: Any
) -> None:
    for n in range(3):
        make_product(sku=f"C{n}")
    api.call("GET", f"{URL}?page_size=2")

    with django_assert_max_num_queries(1):
        body = api.call("GET", f"{URL}?page_size=2&page=2").json()

    assert body["count"] == 3


def test_an_edit_through_the_api_is_counted_at_once(
    api: Api, admin_token: str, django_capture_on_commit_callbacks: Any
) -> None:
    make_product()
    assert api.call("GET", URL).json()["count"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        api.call("POST", URL, factories.product_body(), token=admin_token)

    assert api.call("GET", URL).json()["count"] == 2


def test_list_items_are_exactly_what_the_product_schema_renders(api: Api) -> None:
    """The list renders rows without Ninja's output validation: it must still be ProductOut."""
    import json

    from django.test import RequestFactory

    from pricewatch.catalog.models import Product
    from pricewatch.catalog.schemas import ProductListOut, ProductOut
    from pricewatch.core.api import api as ninja_api

    make_product(
        sku="FULL",
        title="Bottle",
        brand="Hydra",
        category="Kitchen > Bottles",
        gender="unisex",
        condition="new",
        age_group="adult",
        color="Blue",
        size="750 ml",
        link="https://shop.example.com/p/1",
        image_link="https://cdn.example.com/1.jpg",
        price="19.9000",
        sale_price="15.5",
        currency="EUR",
    )
    make_product(sku="PLAIN", price="7", availability="out_of_stock")

    body = api.call("GET", URL).json()

    assert set(body) == set(ProductListOut.model_fields)
    request = RequestFactory().get(URL)
    for item in body["items"]:
        product = Product.objects.select_related("offer").get(pk=item["id"])
        rendered = ninja_api.renderer.render(
            request, ProductOut.from_orm(product).model_dump(), response_status=200
        )
        assert item == json.loads(rendered)
    assert {item["sku"] for item in body["items"]} == {"FULL", "PLAIN"}
    full = next(item for item in body["items"] if item["sku"] == "FULL")
    assert (full["price"], full["sale_price"], full["current_price"]) == ("19.90", "15.50", "15.50")
