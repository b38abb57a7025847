"""The demo shop: deterministic catalog, every markup style readable, prices that move."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.core.management import CommandError, call_command

from pricewatch.tracking import demo_shop
from pricewatch.tracking.extraction import extract


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[demo_shop.DemoShop, str]]:
    app = demo_shop.DemoShop(demo_shop.Catalog(products=12, seed=5))
    with demo_shop.running(app) as base:
        yield app, base


@pytest.fixture
def shop(served: tuple[demo_shop.DemoShop, str]) -> Iterator[tuple[demo_shop.DemoShop, str]]:
    served[0].catalog.reset()
    yield served
    served[0].catalog.reset()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def test_the_catalog_is_the_same_for_the_same_seed_and_covers_every_style() -> None:
    first, again = demo_shop.Catalog(products=12, seed=9), demo_shop.Catalog(products=12, seed=9)
    other = demo_shop.Catalog(products=12, seed=10)
    assert first.all() == again.all()
    assert first.all() != other.all()
    assert {p.style for p in first.all()} == set(demo_shop.STYLES)
    assert len({p.slug for p in demo_shop.Catalog(products=500).all()}) == 500


@pytest.mark.parametrize("style", ["json-ld", "microdata", "opengraph", "plain"])
def test_each_static_style_is_read_as_the_catalog_says(
    shop: tuple[demo_shop.DemoShop, str], client: httpx.Client, style: str
) -> None:
    app, base = shop
    product = next(p for p in app.catalog.all() if p.style == style)
    url = f"{base}/products/{product.slug}"
    answer = client.get(url)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    found = extract(answer.content, url)
    assert (found.price, found.currency, found.title) == (product.price, "EUR", product.name)
    assert found.availability == ("InStock" if product.in_stock else "OutOfStock")
    expected_method = "heuristic" if style == "plain" else style
    assert found.method == expected_method


@pytest.mark.parametrize(
    ("query", "size"), [("", "S"), ("?size=M", "M"), ("?size=l", "L"), ("?variant={sku_m}", "M")]
)
def test_the_variant_page_shows_the_variant_the_url_selects(
    shop: tuple[demo_shop.DemoShop, str], client: httpx.Client, query: str, size: str
) -> None:
    app, base = shop
    product = next(p for p in app.catalog.all() if p.style == "variant")
    url = f"{base}/products/{product.slug}" + query.format(sku_m=product.variant_sku("M"))
    found = extract(client.get(url).content, url)
    assert found.price == product.variant_price(size)
    assert found.method == "json-ld"


def test_the_script_priced_page_has_no_price_without_javascript(
    shop: tuple[demo_shop.DemoShop, str], client: httpx.Client
) -> None:
    app, base = shop
    product = next(p for p in app.catalog.all() if p.style == "javascript")
    url = f"{base}/products/{product.slug}"
    assert extract(client.get(url).content, url).price is None
    data = client.get(f"{base}/api/products/{product.slug}").json()
    assert data["price"] == str(product.price)  # what the page's script loads


def test_the_price_api_sets_drops_and_refuses_nonsense(
    shop: tuple[demo_shop.DemoShop, str], client: httpx.Client
) -> None:
    app, base = shop
    product = app.catalog.all()[0]
    api = f"{base}/api/products/{product.slug}"
    assert client.post(f"{api}/price", json={"price": "12.34"}).json()["price"] == "12.34"
    assert client.post(f"{api}/price", json={"drop_percent": 35}).json()["price"] == "8.02"
    assert app.catalog.get(product.slug).price == Decimal("8.02")  # type: ignore[union-attr]
    for body in ({"price": "-1"}, {"price": "abc"}, {"drop_percent": 100}, {}, ["x"]):
        answer = client.post(f"{api}/price", json=body)
        assert answer.status_code == 400 and answer.json()["detail"], body
    assert client.post(f"{api}/price", content=b"{not json").status_code == 400
    assert client.post(f"{base}/api/products/nope/price", json={"price": "1"}).status_code == 404
    assert client.get(f"{base}/products/nope").status_code == 404


def test_the_stock_api_sets_and_toggles_availability(
    shop: tuple[demo_shop.DemoShop, str], client: httpx.Client
) -> None:
    app, base = shop
    product = next(p for p in app.catalog.all() if p.style == "json-ld")
    api = f"{base}/api/products/{product.slug}/stock"
    assert client.post(api, json={"in_stock": False}).json()["in_stock"] is False
    url = f"{base}/products/{product.slug}"
    assert extract(client.get(url).content, url).availability == "OutOfStock"
    assert client.post(api, json={}).json()["in_stock"] is True
    assert client.post(api, json={"in_stock": "no"}).status_code == 400


def test_the_form_on_the_product_page_changes_the_price_and_the_stock(
    shop: tuple[demo_shop.DemoShop, str], client: httpx.Client
) -> None:
    app, base = shop
    product = next(p for p in app.catalog.all() if p.style == "plain")
    control = f"{base}/products/{product.slug}/control"
    assert f'action="/products/{product.slug}/control"' in client.get(control[:-8]).text
    answer = client.post(control, data={"price": "7,50"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/products/{product.slug}"
    client.post(control, data={"toggle_stock": "1"})
    changed = app.catalog.get(product.slug)
    assert changed is not None
    assert changed.price == Decimal("7.50") and changed.in_stock is not product.in_stock
    assert client.post(f"{base}/api/reset").status_code == 200
    assert app.catalog.get(product.slug) == product


def test_prices_drift_on_the_timer_deterministically() -> None:
    now = [0.0]
    catalog = demo_shop.Catalog(products=30, seed=2, drift_seconds=60, clock=lambda: now[0])
    twin = demo_shop.Catalog(products=30, seed=2, drift_seconds=60, clock=lambda: now[0])
    start = catalog.all()
    now[0] = 59.0
    assert catalog.all() == start  # no tick yet
    now[0] = 61.0
    moved = [(a.price, b.price) for a, b in zip(start, catalog.all(), strict=True) if a != b]
    assert 3 <= len(moved) <= 20  # about a third of the products
    assert all(abs(new - old) <= old * Decimal("0.11") for old, new in moved)
    assert catalog.all() == twin.all()  # the same seed drifts the same way


def test_index_and_robots_txt(shop: tuple[demo_shop.DemoShop, str], client: httpx.Client) -> None:
    app, base = shop
    index = client.get(base + "/").text
    assert all(f'href="/products/{p.slug}"' in index for p in app.catalog.all())
    robots = client.get(base + "/robots.txt")
    assert robots.text == "User-agent: *\nAllow: /\n"
    products = client.get(base + "/api/products").json()["products"]
    assert len(products) == 12 and products[4]["variants"][1]["size"] == "M"
    svg = client.get(f"{base}/images/{app.catalog.all()[0].slug}.svg")
    assert svg.headers["content-type"] == "image/svg+xml"


def test_latency_delays_every_answer() -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    app = demo_shop.DemoShop(demo_shop.Catalog(products=2), latency_ms=200, sleep=sleep)
    with demo_shop.running(app) as base, httpx.Client() as http:
        http.get(base + "/")
        http.get(base + "/robots.txt")
    assert delays == [0.2, 0.2]


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--port", "0"], "--port"),
        (["--products", "0"], "--products"),
        (["--latency-ms", "-5"], "must not be negative"),
        (["--currency", "euro"], "--currency: unknown currency 'EURO'"),
    ],
)
def test_the_command_refuses_bad_arguments(arguments: list[str], words: str) -> None:
    with pytest.raises(CommandError, match=words):
        call_command("demo-shop", *arguments)


def test_the_command_serves_the_shop(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    served: dict[str, Any] = {}

    def serve(app: demo_shop.DemoShop, *, host: str, port: int) -> None:
        served.update(app=app, host=host, port=port)

    monkeypatch.setattr(demo_shop, "serve", serve)
    call_command("demo-shop", "--port", "8123", "--latency-ms", "200", "--products", "3000")
    assert (served["host"], served["port"], served["app"].latency) == ("127.0.0.1", 8123, 0.2)
    assert len(served["app"].catalog.all()) == 3000
    assert "Demo shop on http://127.0.0.1:8123/" in capsys.readouterr().out
