"""Search: words found in title, description, brand, sku and gtin; full-text on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from pricewatch.catalog import selectors
from tests.accounts.conftest import Api
from tests.catalog import factories
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

api = factories.api
without_facet_index = factories.without_facet_index

URL = "/api/v1/products"


def found(api: Api, q: str, **params: str) -> list[str]:
    response = api.client.get(URL, {"q": q, "ordering": "title", **params})
    assert response.status_code == 200, response.content
    return [item["sku"] for item in response.json()["items"]]


@pytest.fixture
def shelf(db: None) -> None:
    make_product(sku="MUG-1", title="Ceramic coffee mug", brand="Acme")
    make_product(
        sku="BOT-1", title="Steel water bottle", description="Keeps drinks cold", brand="Hydra"
    )
    make_product(sku="BOT-2", title="Glass bottle", gtin="4006381333931", brand="Acme")
    make_product(sku="LAMP-9", title="Desk lamp", brand="Lumo")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("bottle", ["BOT-2", "BOT-1"]),
        ("BOTTLE", ["BOT-2", "BOT-1"]),
        ("bott", ["BOT-2", "BOT-1"]),  # the start of a word is enough
        ("steel bottle", ["BOT-1"]),  # every word must match
        ("cold", ["BOT-1"]),  # description
        ("acme", ["MUG-1", "BOT-2"]),  # brand
        ("lamp-9", ["LAMP-9"]),  # sku
        ("LAMP_9", ["LAMP-9"]),
        ("4006381333931", ["BOT-2"]),  # gtin
        ("teapot", []),
        ("   ", ["MUG-1", "BOT-2", "BOT-1", "LAMP-9"]),  # no words: no search
        ("'; DROP TABLE catalog_product; --", []),
        ("zz & yy | !xx:* <-> (", []),  # tsquery syntax is only text
    ],
)
def test_search_finds_words_in_every_field(
    api: Api, shelf: None, q: str, expected: list[str]
) -> None:
    result = found(api, q)

    if q.strip():
        assert result == expected
    else:
        assert sorted(result) == sorted(expected)


def test_search_combines_with_filters(api: Api, shelf: None) -> None:
    assert found(api, "bottle", brand="Acme") == ["BOT-2"]


def test_search_terms_are_words_and_bounded() -> None:
    assert selectors.search_terms("Steel-bottle, 750ml!") == ["steel", "bottle", "750ml"]
    assert len(selectors.search_terms(" ".join(f"w{n}" for n in range(50)))) == 8
    assert selectors.search_terms("x" * 500) == ["x" * 64]


def test_an_overlong_search_is_refused(api: Api) -> None:
    assert api.client.get(URL, {"q": "x" * 201}).status_code == 422


@pytest.mark.postgres
def test_postgres_search_uses_the_full_text_index(shelf: None) -> None:
    queryset = selectors.filtered_products(selectors.ProductFilters(q="bottle", active=None))
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table would be scanned otherwise
        try:
            plan = queryset.explain()
        finally:
            cursor.execute("SET enable_seqscan = on")

    assert "product_search" in plan


def test_search_is_in_the_list_query_count(
    api: Api, shelf: None, without_facet_index: None, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(2):
        assert found(api, "bottle") == ["BOT-2", "BOT-1"]


@pytest.mark.parametrize("ordering", ["-created", "title", "-price"])
def test_a_search_pages_through_its_matches_when_newer_products_do_not_match(
    api: Api, ordering: str
) -> None:
    """The page is found among the matches, not among the newest products of all."""
    for n in range(3):
        make_product(sku=f"KET-{n}", title=f"Kettle {n}", price=str(10 + n))
    for n in range(6):
        make_product(sku=f"CUP-{n}", title=f"Cup {n}", price=str(50 + n))

    first = api.client.get(URL, {"q": "kettle", "ordering": ordering, "page_size": 2}).json()
    second = api.client.get(
        URL, {"q": "kettle", "ordering": ordering, "page_size": 2, "page": 2}
    ).json()

    skus = [item["sku"] for item in first["items"] + second["items"]]
    assert sorted(skus) == ["KET-0", "KET-1", "KET-2"]
    assert first["count"] == 3
