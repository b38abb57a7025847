"""Facets: each facet's values counted under the other filters ("disjunctive" facets)."""

from __future__ import annotations

from typing import Any

import pytest

from pricewatch.catalog import filters, selectors
from tests.accounts.conftest import Api
from tests.catalog import factories
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

api = factories.api
admin_token = factories.admin_token
without_facet_index = factories.without_facet_index

URL = "/api/v1/products/facets"


def values(body: dict[str, Any], facet: str) -> list[tuple[str, int]]:
    return [(item["value"], item["count"]) for item in body["facets"][facet]["values"]]


@pytest.fixture
def shelf(db: None) -> None:
    make_product(brand="Acme", color="red", size="M", gender="female", category="Cups")
    make_product(brand="Acme", color="red", size="L", condition="new", category="Cups")
    make_product(brand="Acme", color="blue", size="M", availability="out_of_stock")
    make_product(brand="Bolt", color="red", size="M", category="Mugs")
    make_product(brand="Bolt", color="green")
    make_product(brand="Cora", color="blue", active=False)


def test_without_filters_every_facet_counts_every_active_product(api: Api, shelf: None) -> None:
    body = api.call("GET", URL).json()

    assert body["count"] == 5
    assert values(body, "brand") == [("Acme", 3), ("Bolt", 2)]
    assert values(body, "color") == [("red", 3), ("blue", 1), ("green", 1)]
    assert values(body, "size") == [("M", 3), ("L", 1)]  # empty values are not facets
    assert values(body, "availability") == [("in_stock", 4), ("out_of_stock", 1)]
    assert values(body, "category") == [("Cups", 2), ("Mugs", 1)]
    assert values(body, "gender") == [("female", 1)]
    assert values(body, "condition") == [("new", 1)]
    assert set(body["facets"]) == set(filters.FACET_FIELDS)


def test_a_facets_own_filter_is_left_out_when_counting_it(api: Api, shelf: None) -> None:
    body = api.call("GET", f"{URL}?brand=Acme&color=red").json()

    assert body["count"] == 2  # Acme and red
    # brand is counted over red products of any brand, colour over Acme products of any colour
    assert values(body, "brand") == [("Acme", 2), ("Bolt", 1)]
    assert values(body, "color") == [("red", 2), ("blue", 1)]
    # the other facets are counted under both filters
    assert values(body, "size") == [("L", 1), ("M", 1)]


@pytest.mark.parametrize("index", [True, False], ids=["facet-index", "database"])
def test_availability_is_the_offers_asked_and_answered_in_the_feeds_words(
    api: Api, index: bool, settings: Any
) -> None:
    if not index:
        settings.CATALOG_FACET_INDEX_MAX_PRODUCTS = 0
    make_product(brand="Acme", availability="in_stock")
    make_product(brand="Acme", availability="preorder")
    make_product(brand="Bolt", availability="")  # the offer's availability is "unknown"

    every = api.call("GET", URL).json()
    preorder = api.call("GET", f"{URL}?availability=preorder").json()
    unknown = api.call("GET", f"{URL}?availability=").json()
    pricing_word = api.call("GET", f"{URL}?availability=unknown").json()

    assert values(every, "availability") == [("in_stock", 1), ("preorder", 1)]
    assert (preorder["count"], values(preorder, "brand")) == (1, [("Acme", 1)])
    assert (unknown["count"], values(unknown, "brand")) == (1, [("Bolt", 1)])
    assert (pricing_word["count"], values(pricing_word, "brand")) == (0, [])
    assert values(pricing_word, "availability") == [("in_stock", 1), ("preorder", 1)]


def test_several_values_of_one_facet_and_a_search(api: Api, shelf: None) -> None:
    make_product(brand="Dune", color="red", title="Red kettle")

    body = api.call("GET", f"{URL}?brand=Acme&brand=Dune&q=kettle").json()

    assert body["count"] == 1
    assert values(body, "brand") == [("Dune", 1)]


def test_facets_follow_the_price_range(api: Api, shelf: None) -> None:
    make_product(brand="Dear", price="900")

    body = api.call("GET", f"{URL}?price_min=500").json()

    assert values(body, "brand") == [("Dear", 1)]


def test_inactive_products_count_for_admins_who_ask(
    api: Api, shelf: None, admin_token: str
) -> None:
    body = api.call("GET", f"{URL}?active=false", token=admin_token).json()

    assert values(body, "brand") == [("Cora", 1)]
    assert api.call("GET", f"{URL}?active=all").status_code == 401


def test_long_lists_are_capped_and_say_how_many_are_left_out(
    api: Api, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "FACET_LIMIT", 2)
    for brand in ("A", "B", "B", "C", "D"):
        make_product(brand=brand)

    facet = api.call("GET", URL).json()["facets"]["brand"]

    assert [item["value"] for item in facet["values"]] == ["B", "A"]  # count, then value
    assert facet["more"] == 2


def test_facets_are_cached_until_an_edit_through_the_api(
    api: Api,
    admin_token: str,
    without_facet_index: None,
    django_assert_max_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    make_product(brand="Acme")
    api.call("GET", URL)

    with django_assert_max_num_queries(0):
        cached = api.call("GET", URL).json()
    with django_capture_on_commit_callbacks(execute=True):
        api.call(
            "POST", "/api/v1/products", factories.product_body(brand="Acme"), token=admin_token
        )
    fresh = api.call("GET", URL).json()

    assert values(cached, "brand") == [("Acme", 1)]
    assert values(fresh, "brand") == [("Acme", 2)]


def test_facets_take_a_bounded_number_of_queries(
    api: Api, settings: Any, django_assert_max_num_queries: Any
) -> None:
    settings.CATALOG_FACET_CACHE_SECONDS = 0
    for n in range(20):
        make_product(brand=f"B{n % 4}", color=f"c{n % 3}", size=f"s{n % 5}")

    # one per facet (7) + the total; PostgreSQL groups the unfiltered facets into one query
    with django_assert_max_num_queries(8):
        body = api.call("GET", f"{URL}?brand=B1&size=s2").json()

    assert body["count"] == 1


def test_bad_filters_are_refused(api: Api) -> None:
    assert api.call("GET", f"{URL}?price_min=abc").status_code == 422
    assert api.call("GET", f"{URL}?price_min=5&price_max=1").status_code == 400
