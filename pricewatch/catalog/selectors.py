"""Reads of the catalog: filtered, searched, ordered and paginated products, and facet counts.

One set of filters (`filters.ProductFilters`) drives the list, the facets and the total count,
so a "Brand (12)" check-box always agrees with the list it leads to. A product's price and
availability are its offer's, joined; availability is asked and answered in the feed's words.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Final, Generic, NamedTuple, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    Max,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import OrderBy
from django.db.models.functions import Concat

from pricewatch.catalog import facet_index, prices
from pricewatch.catalog.filters import FACET_FIELDS, ProductFilters
from pricewatch.catalog.models import Product
from pricewatch.core.errors import DomainError

# The columns the list shows: the list reads these and nothing else (description and extra
# attributes can be long).
LIST_FIELDS: Final = (
    "id",
    "sku",
    "title",
    "brand",
    "category",
    "gender",
    "condition",
    "age_group",
    "color",
    "size",
    "link",
    "image_link",
    "active",
    "created_at",
    "updated_at",
    "offer__id",
    "offer__price",
    "offer__regular_price",
    "offer__currency",
    "offer__availability",
)


class ProductRow(NamedTuple):
    """One product of `product_row_page`: the list's columns, its offer's price fields last."""

    id: int
    sku: str
    title: str
    brand: str
    category: str
    gender: str
    condition: str
    age_group: str
    color: str
    size: str
    link: str
    image_link: str
    active: bool
    created_at: datetime
    updated_at: datetime
    offer_price: Decimal | None
    offer_regular_price: Decimal | None
    offer_currency: str
    offer_availability: str


# ProductRow's columns as the ORM names them (`offer_price` is `offer__price`).
LIST_ROW_COLUMNS: Final = tuple(
    name.replace("offer_", "offer__", 1) if name.startswith("offer_") else name
    for name in ProductRow._fields
)

FACET_LIMIT: Final = 100
# Facet counts and list totals are cached this long (seconds; settings.CATALOG_FACET_CACHE_SECONDS,
# 0 = off).
# Edits through the API start a new generation at once; feed imports call
# `forget_cached_facets`; anything else shows within this time.
FACET_CACHE_SECONDS: Final = 30
_FACET_GENERATION_KEY: Final = "catalog:facets:generation"
# Catalogs up to this many active products are counted in memory (see `facet_index`;
# settings.CATALOG_FACET_INDEX_MAX_PRODUCTS, 0 = always the database).
FACET_INDEX_MAX_PRODUCTS: Final = 500_000

# API ordering names to model paths; `price` is the current price, on the product's offer.
ORDERINGS: Final[dict[str, str]] = {
    "title": "title",
    "price": "offer__price",
    "created": "created_at",
    "updated": "updated_at",
    "brand": "brand",
}
DEFAULT_ORDERING: Final = ("-created",)
# How a page is found (PostgreSQL): sort every matching row, or walk an index in the wanted
# order testing each row until the page is full. Costs per row, relative (measured with 100k
# products: fetching a matching row, joining its offer and sorting it ~7 us; taking the next
# row of an index walk, joining and testing it ~5 us). See `_few`.
SORT_ROW_COST: Final = 7
WALK_ROW_COST: Final = 5
# A search's test (the text vector) costs much more per walked row: up to this many matches
# are sorted.
FEW_SEARCH_ROWS: Final = 20_000

SEARCH_FIELDS: Final = ("title", "description", "brand", "sku", "gtin")
# The fields of the search index's text, in the index expression's order (migration 0003).
SEARCH_VECTOR_FIELDS: Final = ("title", "brand", "sku", "gtin", "description")
MAX_SEARCH_TERMS: Final = 8
MAX_TERM_LENGTH: Final = 64
_TERM_RE: Final = re.compile(r"[^\W_]+")


Item = TypeVar("Item")


@dataclass(slots=True)
class ProductPage(Generic[Item]):
    items: list[Item]
    count: int
    page: int
    pages: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(slots=True)
class FacetValue:
    value: str
    count: int


@dataclass(slots=True)
class Facet:
    values: list[FacetValue] = field(default_factory=list)
    # Distinct values left out by the FACET_LIMIT cap.
    more: int = 0


@dataclass(slots=True)
class Facets:
    count: int
    facets: dict[str, Facet]


def search_terms(q: str) -> list[str]:
    """Words (letters and digits) of a search, lower-cased; punctuation separates words."""
    terms = [term[:MAX_TERM_LENGTH] for term in _TERM_RE.findall(q.lower())]
    return list(dict.fromkeys(terms))[:MAX_SEARCH_TERMS]


class _TextMatch(Func):
    """PostgreSQL: the product's text matches a tsquery, through the search index.

    Renders the index expression of migration 0003 (the planner matches expressions, so it
    must stay the same) with the columns as the compiler names them: correct inside a
    subquery too, where the table has an alias.
    """

    output_field = BooleanField()

    def __init__(self, tsquery: str) -> None:
        super().__init__(*(F(name) for name in SEARCH_VECTOR_FIELDS), Value(tsquery))

    def as_sql(
        self, compiler: Any, connection: Any, *args: Any, **kwargs: Any
    ) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        for expression in self.get_source_expressions():
            sql, more = compiler.compile(expression)
            parts.append(sql)
            params.extend(more)
        text = " || ' ' || ".join(parts[:-1])
        return (
            f"to_tsvector('simple'::regconfig, translate({text}, '-./_,', '     ')) "
            f"@@ to_tsquery('simple'::regconfig, {parts[-1]})",
            params,
        )


def _matching(queryset: QuerySet[Product], terms: list[str]) -> QuerySet[Product]:
    if connection.vendor == "postgresql":
        # Every word must start a word of the product (prefix match): "bott" finds "bottles".
        # Terms are letters and digits only, so quoting them is all the escaping needed.
        tsquery = " & ".join(f"'{term}':*" for term in terms)
        return queryset.filter(_TextMatch(tsquery))
    # Elsewhere (SQLite): every word must occur in one of the fields.
    for term in terms:
        anywhere = Q()
        for name in SEARCH_FIELDS:
            anywhere |= Q(**{f"{name}__icontains": term})
        queryset = queryset.filter(anywhere)
    return queryset


def filtered_products(filters: ProductFilters) -> QuerySet[Product]:
    """Products matching every filter (no ordering, no columns chosen)."""
    queryset = Product.objects.all()
    if filters.active is not None:
        queryset = queryset.filter(active=filters.active)
    for name in (*FACET_FIELDS, "sku"):
        values = getattr(filters, name)
        path = name
        if name == "availability" and values:
            path = "offer__availability"
            wanted = (prices.offer_availability(value) for value in values)
            values = tuple(value for value in wanted if value is not None)
            if not values:  # none of the feed's words: nothing has it
                return queryset.none()
        if len(values) == 1:
            queryset = queryset.filter(**{path: values[0]})
        elif values:
            queryset = queryset.filter(**{f"{path}__in": values})
    if filters.price_min is not None:
        queryset = queryset.filter(offer__price__gte=filters.price_min)
    if filters.price_max is not None:
        queryset = queryset.filter(offer__price__lte=filters.price_max)
    terms = search_terms(filters.q)
    if terms:
        queryset = _matching(queryset, terms)
    return queryset


def parse_ordering(value: str | None) -> tuple[str, ...]:
    """`-price,title` to ("-price", "title"); an unknown name is a 400 naming the allowed ones."""
    if not value or not value.strip():
        return DEFAULT_ORDERING
    keys = tuple(part.strip() for part in value.split(",") if part.strip())
    for key in keys:
        if key.removeprefix("-") not in ORDERINGS:
            allowed = ", ".join(ORDERINGS)
            raise DomainError(
                f"Unknown ordering '{key}'. Allowed: {allowed} (prefix '-' for descending).",
                code="invalid_ordering",
                fields={"ordering": f"Allowed: {allowed}, each optionally prefixed with '-'."},
            )
    return keys


def _unindexable(path: str) -> Any:
    """The same sort key in a form no index serves (`x + 0`, `x || ''`), see `_order_by`."""
    if path == "id":
        return ExpressionWrapper(F(path) + Value(0), output_field=BigIntegerField())
    if path == "offer__price":
        return ExpressionWrapper(F(path) + Value(0), output_field=DecimalField())
    if path in {"created_at", "updated_at"}:
        return ExpressionWrapper(F(path) + Value(timedelta(0)), output_field=DateTimeField())
    return Concat(F(path), Value(""), output_field=CharField())


def _order_by(keys: Iterable[str], *, few: bool) -> list[OrderBy]:
    """ORDER BY terms for the API's ordering keys, with a unique tie-breaker.

    `few`: the filters leave few rows. The sort keys then take a form no index can serve, so
    PostgreSQL fetches the few matching rows and sorts them, instead of walking an index in
    the wanted order (e.g. the price index over every offer, through the join) and testing
    each row against the filters until a page is full.
    """
    terms: list[OrderBy] = []
    descending = True
    for key in (*keys, None):
        if key is None:  # a unique tie-breaker keeps pages stable
            path = "id"
        else:
            descending = key.startswith("-")
            path = ORDERINGS[key.removeprefix("-")]
        expression = _unindexable(path) if few else F(path)
        terms.append(OrderBy(expression, descending=descending))
    return terms


def _few(filters: ProductFilters, count: int, end: int, total: Callable[[], int]) -> bool:
    """Whether sorting the `count` matches beats walking an index to row `end` (PostgreSQL).

    A walk in the wanted order meets matches at the rate `count / total` (filters taken as
    independent of the order), so it reads about `end * total / count` rows to fill the page:
    one brand of 300 is cheaper to sort, a brand with 4 % of the catalog cheaper to walk.
    `total` answers the catalog's size (asked only when needed).
    """
    if connection.vendor != "postgresql":
        return False  # SQLite's planner does not walk the indexes this way
    if search_terms(filters.q):
        return count <= FEW_SEARCH_ROWS
    if count == 0:
        return True
    walked = end * max(total(), count) / count
    return count * SORT_ROW_COST <= walked * WALK_ROW_COST


def _check_page(page: int, page_size: int, count: int) -> int:
    """The number of pages; a page past the last one is a 404 ("Invalid page")."""
    pages = max(1, math.ceil(count / page_size))
    if page > pages:
        raise DomainError(
            f"Invalid page: page {page} is past the last page ({pages}).",
            code="invalid_page",
            status=404,
        )
    return pages


def _page_of(
    filters: ProductFilters, ordering: tuple[str, ...], page: int, page_size: int
) -> tuple[QuerySet[Product], int, int]:
    """The ordered, sliced queryset of one page, the total count and the number of pages.

    With a facet index snapshot the page's ids are found in memory (filters and order), and
    only the page's rows are read; otherwise, and for searches (the text search then finds
    the page faster than it could list every match for the snapshot), the database finds them.
    """
    snapshot = None if search_terms(filters.q) else _snapshot(filters)
    queryset = filtered_products(filters)
    if snapshot is not None:
        masks = snapshot.masks(filters)
        count = snapshot.count(masks)
    else:
        count = _cached_database_count(filters, queryset)
    pages = _check_page(page, page_size, count)
    offset = (page - 1) * page_size
    if snapshot is not None:
        keys = [(key.removeprefix("-"), key.startswith("-")) for key in ordering]
        found = snapshot.page(masks, keys, offset, page_size)
        if found is not None:
            rows = Product.objects.filter(id__in=found).order_by(*_order_by(ordering, few=False))
            return rows, count, pages
    few = _few(filters, count, offset + page_size, partial(_catalog_size, filters, snapshot))
    # A deferred join: the page's ids are found reading only what filters and sorts, then
    # the page's rows are read whole (sorting 2,000 wide rows to keep 50 cost twice as much).
    ids = queryset.order_by(*_order_by(ordering, few=few)).values("id")[offset : offset + page_size]
    rows = Product.objects.filter(id__in=ids).order_by(*_order_by(ordering, few=False))
    return rows, count, pages


def _catalog_size(filters: ProductFilters, snapshot: facet_index.Snapshot | None) -> int:
    """Products with the filters' `active` setting: all a snapshot holds, else counted."""
    if snapshot is not None:
        return snapshot.size
    everything = replace(ProductFilters(), active=filters.active)
    return _cached_database_count(everything, filtered_products(everything))


def product_page(
    *, filters: ProductFilters, ordering: tuple[str, ...], page: int, page_size: int
) -> ProductPage[Product]:
    """One page of products; a page past the last one is a 404 ("Invalid page")."""
    rows, count, pages = _page_of(filters, ordering, page, page_size)
    items = list(rows.select_related("offer").only(*LIST_FIELDS))
    return ProductPage(items=items, count=count, page=page, pages=pages, page_size=page_size)


def product_row_page(
    *, filters: ProductFilters, ordering: tuple[str, ...], page: int, page_size: int
) -> ProductPage[ProductRow]:
    """`product_page` with each item a `ProductRow` instead of a model instance.

    The API's list answers from these: building 50 model instances (and serialising them
    attribute by attribute) cost more than the query itself.
    """
    rows, count, pages = _page_of(filters, ordering, page, page_size)
    items = [ProductRow._make(row) for row in rows.values_list(*LIST_ROW_COLUMNS)]
    return ProductPage(items=items, count=count, page=page, pages=pages, page_size=page_size)


def product_detail(*, product_id: int | None = None, sku: str | None = None) -> Product:
    """One product with its offer, by id or sku (inactive ones included: callers decide)."""
    queryset = Product.objects.select_related("offer")
    lookup: dict[str, Any] = {"pk": product_id} if product_id is not None else {"sku": sku}
    product = queryset.filter(**lookup).first()
    if product is None:
        raise DomainError("No such product.", code="not_found", status=404)
    return product


def _facet(rows: Iterable[tuple[Any, int]]) -> Facet:
    """Values by count, then value; empty ones left out; at most FACET_LIMIT."""
    values = [FacetValue(value=str(value), count=count) for value, count in rows if value != ""]
    values.sort(key=lambda item: (-item.count, item.value))
    return Facet(values=values[:FACET_LIMIT], more=max(0, len(values) - FACET_LIMIT))


def _facet_columns(queryset: QuerySet[Product], names: list[str]) -> QuerySet[Product, Any]:
    """Rows of the facet columns in `names`; availability is the offer's, under its own name."""
    if "availability" in names:
        queryset = queryset.annotate(availability=F("offer__availability"))
    return queryset.order_by().values_list(*names)


def _in_feed_words(name: str, rows: Iterable[tuple[Any, int]]) -> Iterable[tuple[Any, int]]:
    """A facet's (value, count) rows counted from the database, in the words the API shows."""
    if name != "availability":
        return rows
    counts: Counter[str] = Counter()
    for value, count in rows:
        counts[prices.feed_availability(value)] += count
    return counts.items()


def _grouped_facets(filters: ProductFilters, names: list[str]) -> tuple[int, dict[str, Facet]]:
    """PostgreSQL: the total and the facets in `names` with one scan (GROUPING SETS)."""
    base = _facet_columns(filtered_products(filters), names)
    try:
        inner, params = base.query.sql_with_params()
    except EmptyResultSet:  # the filters match nothing (`filtered_products`)
        return 0, {name: Facet() for name in names}
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in names)
    sets = ", ".join(f"({quote(name)})" for name in names)
    grouping = ", ".join(f"GROUPING({quote(name)})" for name in names)
    # The inner query is Django's own, with bound parameters; column names are ours.
    sql = (
        f"SELECT {columns}, {grouping}, COUNT(*) FROM ({inner}) AS base "  # noqa: S608
        f"GROUP BY GROUPING SETS ({sets}, ())"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(names)
    collected: dict[str, list[tuple[Any, int]]] = {name: [] for name in names}
    total = 0
    for row in rows:
        values, flags, count = row[:width], row[width : 2 * width], row[-1]
        grouped_by = [name for name, flag in zip(names, flags, strict=True) if flag == 0]
        if not grouped_by:
            total = count
        else:
            collected[grouped_by[0]].append((values[names.index(grouped_by[0])], count))
    return total, {name: _facet(_in_feed_words(name, collected[name])) for name in names}


def _counted_facets(filters: ProductFilters, names: list[str]) -> tuple[int, dict[str, Facet]]:
    """Elsewhere (SQLite): the total and the facets in `names` from one pass over the rows.

    One scan beats one GROUP BY per facet there: each of those scans the table again.
    """
    counters: dict[str, Counter[str]] = {name: Counter() for name in names}
    total = 0
    rows = _facet_columns(filtered_products(filters), names)
    for row in rows.iterator(chunk_size=5000):
        total += 1
        for name, value in zip(names, row, strict=True):
            counters[name][value] += 1
    return total, {name: _facet(_in_feed_words(name, counters[name].items())) for name in names}


def _single_facet(filters: ProductFilters, name: str) -> Facet:
    path = "offer__availability" if name == "availability" else name
    rows = (
        filtered_products(filters)
        .order_by()
        .values_list(path)
        .annotate(n=Count("*"))  # COUNT(*), not COUNT(id): an index-only scan can answer it
        .values_list(path, "n")
    )
    return _facet(_in_feed_words(name, rows))


def product_facets(filters: ProductFilters) -> Facets:
    """For each facet, its values with counts under every *other* active filter.

    A facet's own filter is left out when counting it ("disjunctive" facets), so ticking
    "Brand A" still shows how many products "Brand B" would add. Values are sorted by count,
    then value; empty values are not shown; at most FACET_LIMIT values per facet.
    """
    free = [name for name in FACET_FIELDS if not getattr(filters, name)]
    narrowed = [name for name in FACET_FIELDS if getattr(filters, name)]
    facets: dict[str, Facet] = {}
    if connection.vendor == "postgresql" and free:
        total, facets = _grouped_facets(filters, free)
    elif free:
        total, facets = _counted_facets(filters, free)
    else:
        total = filtered_products(filters).count()
    for name in narrowed:
        facets[name] = _single_facet(filters.without(name), name)
    return Facets(count=total, facets={name: facets[name] for name in FACET_FIELDS})


def _cache_seconds() -> int:
    return int(getattr(settings, "CATALOG_FACET_CACHE_SECONDS", FACET_CACHE_SECONDS))


def _facet_generation() -> str:
    """The current generation of cached counts: a random token, new after every change.

    A token rather than a counter: a cache that was cleared (or evicted the key) starts a
    generation no earlier snapshot or cached count can belong to.
    """
    generation = cache.get(_FACET_GENERATION_KEY)
    if not isinstance(generation, str):
        cache.add(_FACET_GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        generation = cache.get(_FACET_GENERATION_KEY)
    return str(generation)


def _cache_key(kind: str, filters: ProductFilters) -> str:
    digest = hashlib.sha256(filters.cache_key().encode()).hexdigest()[:32]
    return f"catalog:{kind}:{_facet_generation()}:{digest}"


def _snapshot(filters: ProductFilters) -> facet_index.Snapshot | None:
    """The facet index's snapshot when it may count under `filters` (else: the database)."""
    seconds = _cache_seconds()
    limit = int(getattr(settings, "CATALOG_FACET_INDEX_MAX_PRODUCTS", FACET_INDEX_MAX_PRODUCTS))
    if seconds <= 0 or limit <= 0 or not facet_index.Snapshot.answers(filters):
        return None
    # The newest change joins the generation: a feed imported by another process (the worker,
    # with a cache of its own in the embedded set-up) is seen at once. One index lookup.
    newest = Product.objects.aggregate(newest=Max("updated_at"))["newest"]
    return facet_index.INDEX.get(f"{_facet_generation()}:{newest}", seconds, limit)


def _search(filters: ProductFilters) -> facet_index.Search | None:
    terms = search_terms(filters.q)
    if not terms:
        return None

    def ids() -> list[int]:
        # No `active` test: the snapshot holds active products only, the others fall out.
        found = _matching(Product.objects.all(), terms).order_by()
        return list(found.values_list("id", flat=True))

    return tuple(terms), ids


def indexed_facets(snapshot: facet_index.Snapshot, filters: ProductFilters) -> Facets:
    """`product_facets` counted from a facet index snapshot instead of the database."""
    masks = snapshot.masks(filters, _search(filters))
    facets = {name: _facet(snapshot.facet_counts(masks, name)) for name in FACET_FIELDS}
    return Facets(count=snapshot.count(masks), facets=facets)


def _cached_database_count(filters: ProductFilters, queryset: QuerySet[Product]) -> int:
    """`queryset.count()`, cached for FACET_CACHE_SECONDS per filters and generation."""
    seconds = _cache_seconds()
    if seconds <= 0:
        return queryset.count()
    key = _cache_key("count", filters)
    count = cache.get(key)
    if not isinstance(count, int):
        count = queryset.count()
        cache.set(key, count, timeout=seconds)
    return count


def forget_cached_facets() -> None:
    """Start a new generation of cached facet counts and totals (after products changed)."""
    cache.set(_FACET_GENERATION_KEY, uuid.uuid4().hex, timeout=None)


def cached_product_facets(filters: ProductFilters) -> Facets:
    """`product_facets` from the facet index, else cached for FACET_CACHE_SECONDS per filters."""
    seconds = _cache_seconds()
    if seconds <= 0:
        return product_facets(filters)
    snapshot = _snapshot(filters)
    if snapshot is not None:
        return indexed_facets(snapshot, filters)
    key = _cache_key("facets", filters)
    facets = cache.get(key)
    if not isinstance(facets, Facets):
        facets = product_facets(filters)
        cache.set(key, facets, timeout=seconds)
    return facets
