"""The in-memory facet index counts exactly what the database counts, and stays fresh."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from pricewatch.catalog import facet_index, selectors
from pricewatch.catalog.filters import ProductFilters
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

BRANDS = ["Acme", "Bolt", "Cora", "Dune", ""]
CATEGORIES = ["Cups", "Mugs", "Bottles > Steel", ""]
COLORS = ["red", "blue", "green", "Red", ""]
SIZES = ["S", "M", "L", "750 ml", ""]
WORDS = ["bottle", "Mug", "mug", "steel", "Élan", "kettle"]


def as_lists(facets: selectors.Facets) -> dict[str, Any]:
    return {
        "count": facets.count,
        **{
            name: ([(v.value, v.count) for v in facet.values], facet.more)
            for name, facet in facets.facets.items()
        },
    }


@pytest.fixture
def catalog(db: None) -> None:
    rng = random.Random(42)
    for n in range(120):
        price = Decimal(rng.choice(["5", "9.99", "10", "10.0001", "24.5", "100", "250.75"]))
        sale = rng.choice([None, None, price - Decimal("1")]) if price > 1 else None
        make_product(
            sku=f"F{n:03d}",
            title=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n % 40}",
            brand=rng.choice(BRANDS),
            category=rng.choice(CATEGORIES),
            gender=rng.choice(["male", "female", "unisex", ""]),
            condition=rng.choice(["new", "used", ""]),
            availability=rng.choice(["in_stock", "out_of_stock", "preorder", ""]),
            color=rng.choice(COLORS),
            size=rng.choice(SIZES),
            price=price,
            sale_price=sale,
            active=rng.random() > 0.1,
        )


def random_filters(rng: random.Random) -> ProductFilters:
    def some(values: list[str]) -> tuple[str, ...]:
        if rng.random() < 0.55:
            return ()
        picked = rng.sample([*values, "Nope"], rng.choice([1, 1, 2]))
        return tuple(picked)

    low = rng.choice([None, None, Decimal("9.99"), Decimal("10.00005"), Decimal("0")])
    high = rng.choice([None, None, Decimal("24.5"), Decimal("99.99999"), Decimal("1000")])
    return ProductFilters(
        brand=some(BRANDS),
        category=some(CATEGORIES),
        gender=some(["male", "female", "unisex"]),
        condition=some(["new", "used"]),
        availability=some(["in_stock", "out_of_stock", "preorder", "", "unknown"]),
        color=some(COLORS),
        size=some(SIZES),
        price_min=low,
        price_max=high if low is None or high is None or high >= low else None,
        q=rng.choice(["", "", "", "bott", "steel mug", "kettle 1"]),
    )


def test_the_index_counts_what_the_database_counts_under_random_filters(
    catalog: None,
) -> None:
    snapshot = facet_index.build("test", limit=10_000)
    assert snapshot.size == 120 - sum(
        1 for _ in selectors.filtered_products(ProductFilters(active=False))
    )
    rng = random.Random(7)
    for _ in range(150):
        filters = random_filters(rng)
        expected = as_lists(selectors.product_facets(filters))
        assert as_lists(selectors.indexed_facets(snapshot, filters)) == expected, filters
        masks = snapshot.masks(filters, None)
        if not filters.q:
            assert snapshot.count(masks) == selectors.filtered_products(filters).count()


def test_the_api_answers_from_the_index_without_grouping_in_the_database(
    catalog: None, client: Any, django_assert_max_num_queries: Any
) -> None:
    facet_index.INDEX.clear()
    client.get("/api/v1/products/facets")  # builds the snapshot

    with django_assert_max_num_queries(1):  # the newest change: is the snapshot current?
        body = client.get("/api/v1/products/facets?brand=Acme&color=red&price_min=10").json()

    expected = selectors.product_facets(
        ProductFilters(brand=("Acme",), color=("red",), price_min=Decimal(10))
    )
    assert body["count"] == expected.count
    assert body["facets"]["brand"]["values"] == [
        {"value": v.value, "count": v.count} for v in expected.facets["brand"].values
    ]


@pytest.mark.parametrize("interval", [0.0, 60.0], ids=["rebuilt", "database-meanwhile"])
def test_a_change_starts_a_new_generation_and_a_fresh_snapshot(
    catalog: None,
    client: Any,
    interval: float,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """After an edit the next answer is current: from a new snapshot, or from the database
    while new snapshots are not built yet (the rebuild interval)."""
    monkeypatch.setattr(facet_index, "REBUILD_INTERVAL", interval)
    facet_index.INDEX.clear()
    before = client.get("/api/v1/products/facets?brand=Zeta").json()
    assert before["count"] == 0
    first = facet_index.INDEX._snapshot
    assert first is not None

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        make_product(sku="NEW-ZETA", brand="Zeta")

    after = client.get("/api/v1/products/facets?brand=Zeta").json()
    assert after["count"] == 1
    assert {"value": "Zeta", "count": 1} in after["facets"]["brand"]["values"]
    current = facet_index.INDEX._snapshot
    if interval:
        assert current is first  # not rebuilt: the database answered
    else:
        assert current is not None and current is not first
        assert current.generation != first.generation and "Zeta" in current.lookup["brand"]


def test_an_expired_snapshot_is_rebuilt(catalog: None) -> None:
    facet_index.INDEX.clear()
    first = facet_index.INDEX.get("g1", max_age=60, limit=10_000)
    assert first is not None
    assert facet_index.INDEX.get("g1", max_age=60, limit=10_000) is first
    assert facet_index.INDEX.get("g1", max_age=0, limit=10_000) is not first
    assert facet_index.INDEX.get("g2", max_age=60, limit=10_000, min_interval=0) is not first


def test_new_generations_are_built_at_most_so_often_and_the_database_answers_meanwhile(
    catalog: None,
) -> None:
    facet_index.INDEX.clear()
    assert facet_index.INDEX.get("g1", max_age=60, limit=10_000, min_interval=60) is not None

    assert facet_index.INDEX.get("g2", max_age=60, limit=10_000, min_interval=60) is None
    assert facet_index.INDEX.get("g2", max_age=60, limit=10_000, min_interval=0) is not None


def test_a_catalog_over_the_limit_is_counted_by_the_database(
    catalog: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    facet_index.INDEX.clear()
    settings.CATALOG_FACET_INDEX_MAX_PRODUCTS = 10
    filters = ProductFilters(brand=("Acme",))

    def not_from_the_index(*args: Any) -> None:
        raise AssertionError("counted from the facet index")

    monkeypatch.setattr(facet_index.Snapshot, "facet_counts", not_from_the_index)
    assert facet_index.INDEX.get("big", max_age=60, limit=10) is None
    facets = selectors.cached_product_facets(filters)

    assert as_lists(facets) == as_lists(selectors.product_facets(filters))


def test_sku_filters_and_inactive_products_are_left_to_the_database() -> None:
    assert facet_index.Snapshot.answers(ProductFilters(brand=("Acme",)))
    assert not facet_index.Snapshot.answers(ProductFilters(sku=("F001",)))
    assert not facet_index.Snapshot.answers(ProductFilters(active=None))
    assert not facet_index.Snapshot.answers(ProductFilters(active=False))


def test_a_search_is_asked_of_the_database_once_per_snapshot(catalog: None) -> None:
    snapshot = facet_index.build("search", limit=10_000)
    asked: list[int] = []

    def ids() -> list[int]:
        asked.append(1)
        return list(
            selectors.filtered_products(ProductFilters(q="mug")).values_list("id", flat=True)
        )

    first = snapshot.masks(ProductFilters(q="mug"), (("mug",), ids))["q"]
    again = snapshot.masks(ProductFilters(q="mug", brand=("Acme",)), (("mug",), ids))["q"]

    assert len(asked) == 1 and again is first
    assert int(first.sum()) == selectors.filtered_products(ProductFilters(q="mug")).count()


ORDERINGS = ["price", "-price", "title", "-title", "brand", "-brand", "created", "-updated"]


def test_pages_found_in_the_index_are_the_pages_the_database_finds(catalog: None) -> None:
    snapshot = facet_index.build("pages", limit=10_000)
    rng = random.Random(11)
    for _ in range(150):
        filters = random_filters(rng)
        ordering = tuple(rng.sample(ORDERINGS, rng.choice([1, 1, 2])))
        if len({key.removeprefix("-") for key in ordering}) < len(ordering):
            ordering = ordering[:1]
        offset, size = rng.choice([(0, 5), (0, 20), (5, 5), (10, 50), (35, 10)])
        keys = [(key.removeprefix("-"), key.startswith("-")) for key in ordering]
        masks = snapshot.masks(filters, selectors._search(filters))

        found = snapshot.page(masks, keys, offset, size)

        expected = list(
            selectors.filtered_products(filters)
            .order_by(*selectors._order_by(ordering, few=False))
            .values_list("id", flat=True)[offset : offset + size]
        )
        assert found == expected, (filters, ordering, offset, size)


def test_the_list_api_reads_only_the_page_when_the_index_answers(
    catalog: None, client: Any, django_assert_max_num_queries: Any
) -> None:
    facet_index.INDEX.clear()
    client.get("/api/v1/products/facets")  # builds the snapshot

    with django_assert_max_num_queries(2):  # the newest change, the page's rows
        body = client.get("/api/v1/products?brand=Acme&ordering=-price,title&page_size=7").json()

    expected = selectors.filtered_products(ProductFilters(brand=("Acme",))).order_by(
        "-offer__price", "title", "id"
    )
    assert [item["id"] for item in body["items"]] == list(expected.values_list("id", flat=True)[:7])
    assert body["count"] == expected.count()


def test_a_list_the_index_cannot_answer_asks_whether_it_is_current_once(
    catalog: None, client: Any, settings: Any, django_assert_max_num_queries: Any
) -> None:
    facet_index.INDEX.clear()
    settings.CATALOG_FACET_INDEX_MAX_PRODUCTS = 10  # over the limit: the database answers
    url = "/api/v1/products?brand=Acme&ordering=-price&page_size=5"
    client.get(url)

    # The newest change, the count (cached), the catalog's size (cached), the page.
    with django_assert_max_num_queries(4):
        body = client.get(url.replace("Acme", "Bolt")).json()

    assert body["count"] == selectors.filtered_products(ProductFilters(brand=("Bolt",))).count()
