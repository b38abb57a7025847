"""A small demo shop on 127.0.0.1, for trying pricewatch without the internet and for benchmarks.

`pricewatch demo-shop` serves it with uvicorn. It is a bare ASGI app (no framework, no
database): the catalog lives in memory, seeded deterministically, so the same seed always
gives the same products and prices.

Product pages come in the markup styles real shops use, one per product in turn:

* ``json-ld``     schema.org Product in a JSON-LD script
* ``microdata``   schema.org Product as itemprop attributes
* ``opengraph``   og: / product: meta tags
* ``plain``       no structured data at all: a price next to the title and a buy button
* ``variant``     a JSON-LD ProductGroup with sizes; ``?size=M`` or ``?variant=<sku>`` selects
                  the size shown, and its price
* ``javascript``  the price is loaded by a script after the page has loaded (needs Chromium)

Prices move on a timer (``drift_seconds``: every tick about a third of the products change by
up to 10 %) or on request: a form at the bottom of every product page, and a JSON API::

    POST /api/products/<slug>/price   {"price": "12.34"} or {"drop_percent": 35}
    POST /api/products/<slug>/stock   {"in_stock": false}, or {} to toggle
    GET  /api/products[/<slug>]       the catalog as JSON
    POST /api/reset                   back to the seeded catalog

``latency_ms`` delays every answer (the check benchmark uses 200 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import random
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, quote

__all__ = [
    "STYLES",
    "Catalog",
    "DemoShop",
    "Product",
    "running",
    "serve",
]

STYLES = ("json-ld", "microdata", "opengraph", "plain", "variant", "javascript")
SIZES = ("S", "M", "L")
SIZE_SURCHARGE = {"S": Decimal("0.00"), "M": Decimal("2.00"), "L": Decimal("4.00")}
MAX_PRICE = Decimal("1000000")
CENT = Decimal("0.01")
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

_ADJECTIVES = (
    "Blue", "Compact", "Quiet", "Classic", "Smart", "Sturdy", "Electric", "Wooden", "Folding",
    "Stainless", "Cordless", "Vintage", "Ergonomic", "Waterproof", "Portable", "Ceramic",
)  # fmt: skip
_NOUNS = (
    "Kettle", "Desk Lamp", "Backpack", "Coffee Grinder", "Headphones", "Toaster", "Chair",
    "Water Bottle", "Umbrella", "Bicycle Bell", "Teapot", "Keyboard", "Rain Jacket", "Blender",
    "Alarm Clock", "Frying Pan", "Sneakers", "Notebook", "Tent", "Hoodie",
)  # fmt: skip

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class Product:
    slug: str
    name: str
    style: str
    price: Decimal
    currency: str
    in_stock: bool
    number: int

    @property
    def sku(self) -> str:
        return f"DEMO-{self.number:04d}"

    def variant_sku(self, size: str) -> str:
        return f"{self.sku}-{size}"

    def variant_price(self, size: str) -> Decimal:
        return self.price + SIZE_SURCHARGE[size]

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "slug": self.slug,
            "name": self.name,
            "style": self.style,
            "sku": self.sku,
            "price": str(self.price),
            "currency": self.currency,
            "in_stock": self.in_stock,
            "path": f"/products/{self.slug}",
        }
        if self.style == "variant":
            data["variants"] = [
                {
                    "size": size,
                    "sku": self.variant_sku(size),
                    "price": str(self.variant_price(size)),
                    "path": f"/products/{self.slug}?size={size}",
                }
                for size in SIZES
            ]
        return data


class Catalog:
    """The shop's products and their prices, in memory; safe to use from several threads."""

    def __init__(
        self,
        *,
        products: int = 12,
        seed: int = 1,
        currency: str = "EUR",
        drift_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if products < 1:
            raise ValueError("the demo shop needs at least one product")
        self.count = products
        self.seed = seed
        self.currency = currency
        self.drift_seconds = drift_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._products: dict[str, Product] = {}
        self._order: list[str] = []
        self._started = clock()
        self._drift_steps = 0
        self.reset()

    def reset(self) -> None:
        """Back to the seeded products and prices."""
        rng = random.Random(self.seed)  # noqa: S311 - a demo's prices need no secrecy
        products = {}
        for number in range(1, self.count + 1):
            name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
            price = Decimal(rng.randint(5, 299)) + Decimal(rng.choice(("0.99", "0.49", "0.00")))
            product = Product(
                slug=f"{_slugify(name)}-{number}",
                name=name,
                style=STYLES[(number - 1) % len(STYLES)],
                price=_money(price),
                currency=self.currency,
                in_stock=rng.random() > 0.1,
                number=number,
            )
            products[product.slug] = product
        with self._lock:
            self._products = products
            self._order = list(products)
            self._started = self._clock()
            self._drift_steps = 0

    def _drift(self) -> None:
        """Apply the timer's price moves that are due (lazily, when someone looks)."""
        if self.drift_seconds <= 0:
            return
        due = int((self._clock() - self._started) / self.drift_seconds)
        # Catching up after a long idle time: the latest 100 moves are plenty.
        self._drift_steps = max(self._drift_steps, due - 100)
        while self._drift_steps < due:
            self._drift_steps += 1
            rng = random.Random(self.seed * 1_000_003 + self._drift_steps)  # noqa: S311
            for slug in self._order:
                if rng.random() < 1 / 3:
                    product = self._products[slug]
                    factor = Decimal(1) + Decimal(rng.randint(-100, 100)) / 1000
                    price = min(MAX_PRICE, max(Decimal("1.00"), _money(product.price * factor)))
                    self._products[slug] = replace(product, price=price)

    def all(self) -> list[Product]:
        with self._lock:
            self._drift()
            return [self._products[slug] for slug in self._order]

    def get(self, slug: str) -> Product | None:
        with self._lock:
            self._drift()
            return self._products.get(slug)

    def set_price(self, slug: str, price: Decimal) -> Product:
        if not price.is_finite() or not 0 < price <= MAX_PRICE:
            raise ValueError(f"the price must be between 0.01 and {MAX_PRICE}")
        with self._lock:
            self._drift()
            product = replace(self._products[slug], price=_money(price))
            self._products[slug] = product
            return product

    def drop_price(self, slug: str, percent: Decimal) -> Product:
        if not percent.is_finite() or not 0 < percent < 100:
            raise ValueError("drop_percent must be above 0 and below 100")
        product = self.get(slug)
        if product is None:
            raise KeyError(slug)
        new = max(CENT, _money(product.price * (100 - percent) / 100))
        return self.set_price(slug, new)

    def set_stock(self, slug: str, in_stock: bool | None = None) -> Product:
        """Set availability; None toggles it."""
        with self._lock:
            self._drift()
            product = self._products[slug]
            value = not product.in_stock if in_stock is None else in_stock
            product = replace(product, in_stock=value)
            self._products[slug] = product
            return product


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
a{color:#1a56db} table{border-collapse:collapse;width:100%} td,th{padding:.3rem .5rem;
border-bottom:1px solid #ddd;text-align:left} .price{font-size:1.6rem;font-weight:600}
.stock{color:#067d3f} .stock.out{color:#b42318} .demo-controls{margin-top:3rem;padding:1rem;
background:#f5f5f5;border-radius:.5rem} .demo-controls form{display:inline-block;margin:.3rem}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _display(product: Product, price: Decimal) -> str:
    symbol = _SYMBOLS.get(product.currency)
    return f"{symbol}{price}" if symbol else f"{price} {product.currency}"


def _layout(title: str, body: str, head: str = "") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)} | Demo Shop</title>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{_STYLE}</style>{head}</head><body>"
        '<header><a href="/">Demo Shop</a> · a pretend shop for trying pricewatch</header>'
        f"<main>{body}</main></body></html>"
    )


def _schema_availability(in_stock: bool) -> str:
    return "https://schema.org/InStock" if in_stock else "https://schema.org/OutOfStock"


def _stock_line(in_stock: bool) -> str:
    if in_stock:
        return '<p class="stock">In stock</p><button type="button">Add to cart</button>'
    return '<p class="stock out">Sold out</p><button type="button" disabled>Notify me</button>'


def _controls(product: Product) -> str:
    # Wording here avoids stock phrases and currency amounts: this block sits on the page the
    # tracker reads, and must not be mistaken for the product's own price or availability.
    action = f"/products/{quote(product.slug)}/control"
    return (
        '<section class="demo-controls"><h2>Demo controls</h2>'
        "<p>Change this product to see pricewatch notice (next scheduled check or "
        "&ldquo;check now&rdquo;).</p>"
        f'<form method="post" action="{action}"><label>New amount '
        '<input name="price" inputmode="decimal" size="8"></label> '
        "<button>Set</button></form>"
        f'<form method="post" action="{action}"><input type="hidden" name="drop_percent" '
        'value="35"><button>Drop by 35 %</button></form>'
        f'<form method="post" action="{action}"><input type="hidden" name="toggle_stock" '
        'value="1"><button>Toggle availability</button></form></section>'
    )


def _image(product: Product) -> str:
    return f"/images/{quote(product.slug)}.svg"


def _product_jsonld(product: Product, base: str) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "sku": product.sku,
        "image": base + _image(product),
        "brand": {"@type": "Brand", "name": "Demo"},
        "offers": {
            "@type": "Offer",
            "price": str(product.price),
            "priceCurrency": product.currency,
            "availability": _schema_availability(product.in_stock),
            "url": f"{base}/products/{product.slug}",
        },
    }
    return _jsonld_script(data)


def _jsonld_script(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/ld+json">{text}</script>'


def _selected_size(product: Product, query: dict[str, list[str]]) -> str:
    for size in query.get("size", []):
        if size.upper() in SIZES:
            return size.upper()
    for sku in query.get("variant", []):
        for size in SIZES:
            if sku.upper() == product.variant_sku(size):
                return size
    return SIZES[0]


def product_page(product: Product, query: dict[str, list[str]], base: str) -> str:
    """The product's page in its markup style."""
    name, style = _e(product.name), product.style
    price = _display(product, product.price)
    description = (
        f"<p>The {name} from the demo range (article {product.sku}). "
        "Free delivery, 30 days to change your mind.</p>"
    )
    image = f'<img src="{_image(product)}" alt="{name}" width="240" height="240">'
    head = ""
    if style == "json-ld":
        head = _product_jsonld(product, base)
        body = (
            f"<h1>{name}</h1>{image}<p class='price'>{_e(price)}</p>"
            f"{_stock_line(product.in_stock)}{description}"
        )
    elif style == "microdata":
        link = _schema_availability(product.in_stock)
        body = (
            '<div itemscope itemtype="https://schema.org/Product">'
            f'<h1 itemprop="name">{name}</h1>'
            f'<img itemprop="image" src="{base}{_image(product)}" alt="{name}" width="240">'
            f'<meta itemprop="sku" content="{product.sku}">'
            '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
            f'<meta itemprop="priceCurrency" content="{product.currency}">'
            f'<p class="price"><span itemprop="price" content="{product.price}">{_e(price)}'
            f'</span></p><link itemprop="availability" href="{link}">'
            f"{_stock_line(product.in_stock)}</div>{description}</div>"
        )
    elif style == "opengraph":
        head = (
            '<meta property="og:type" content="product">'
            f'<meta property="og:title" content="{name}">'
            f'<meta property="og:image" content="{base}{_image(product)}">'
            f'<meta property="product:price:amount" content="{product.price}">'
            f'<meta property="product:price:currency" content="{product.currency}">'
            '<meta property="product:availability" '
            f'content="{"instock" if product.in_stock else "oos"}">'
        )
        body = (
            f"<h1>{name}</h1>{image}<p class='price'>{_e(price)}</p>"
            f"{_stock_line(product.in_stock)}{description}"
        )
    elif style == "plain":
        body = (
            f"<h1>{name}</h1>{image}<div class='buy-box'><p class='price'>{_e(price)}</p>"
            f"{_stock_line(product.in_stock)}</div>{description}"
        )
    elif style == "variant":
        size = _selected_size(product, query)
        variants = [
            {
                "@type": "Product",
                "name": f"{product.name}, size {each}",
                "sku": product.variant_sku(each),
                "size": each,
                "offers": {
                    "@type": "Offer",
                    "price": str(product.variant_price(each)),
                    "priceCurrency": product.currency,
                    "availability": _schema_availability(product.in_stock),
                    "url": f"{base}/products/{product.slug}?variant={product.variant_sku(each)}",
                },
            }
            for each in SIZES
        ]
        head = _jsonld_script(
            {
                "@context": "https://schema.org",
                "@type": "ProductGroup",
                "name": product.name,
                "productGroupID": product.sku,
                "variesBy": "https://schema.org/size",
                "image": base + _image(product),
                "hasVariant": variants,
            }
        )
        links = " ".join(
            f'<a href="?size={each}"{" aria-current=true" if each == size else ""}>{each}</a>'
            for each in SIZES
        )
        shown = _display(product, product.variant_price(size))
        body = (
            f"<h1>{name}</h1>{image}<p>Size: {links} (selected: {size})</p>"
            f"<p class='price'>{_e(shown)}</p>{_stock_line(product.in_stock)}{description}"
        )
    else:  # javascript
        api = f"/api/products/{quote(product.slug)}"
        symbol = json.dumps(_SYMBOLS.get(product.currency, product.currency + " "))
        body = (
            f"<h1>{name}</h1>{image}<p class='price' id='price'>Loading…</p>"
            "<p class='stock' id='stock'></p>"
            f"{description}"
            "<script>"
            f"fetch({json.dumps(api)}).then(r => r.json()).then(p => {{"
            f"document.getElementById('price').textContent = {symbol} + p.price;"
            "document.getElementById('stock').textContent = p.in_stock ? 'In stock' : 'Sold out';"
            "});</script>"
        )
    return _layout(product.name, body + _controls(product), head)


def index_page(products: list[Product]) -> str:
    rows = []
    for product in products:
        link = f"/products/{quote(product.slug)}"
        extra = ""
        if product.style == "variant":
            extra = " · " + " ".join(f'<a href="{link}?size={size}">{size}</a>' for size in SIZES)
        stock = "in stock" if product.in_stock else "sold out"
        rows.append(
            f'<tr><td><a href="{link}">{_e(product.name)}</a>{extra}</td>'
            f"<td>{_e(product.style)}</td><td>{_e(_display(product, product.price))}</td>"
            f"<td>{stock}</td></tr>"
        )
    body = (
        "<h1>Demo Shop</h1><p>A pretend shop for trying pricewatch: copy a product's address "
        "into one of your lists. Each product page uses a different kind of markup. Prices "
        "change when you use the controls at the bottom of a product page, through "
        "<code>POST /api/products/&lt;slug&gt;/price</code>, or on a timer "
        "(<code>--drift-seconds</code>).</p>"
        "<table><thead><tr><th>Product</th><th>Markup</th><th>Price</th><th>Stock</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return _layout("All products", body)


def _svg(product: Product) -> bytes:
    hue = (product.number * 47) % 360
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="240">'
        f'<rect width="240" height="240" fill="hsl({hue},60%,70%)"/>'
        '<text x="120" y="130" font-size="20" text-anchor="middle" font-family="sans-serif">'
        f"{_e(product.name)}</text></svg>"
    ).encode()


# --------------------------------------------------------------------------------------------
# The ASGI app
# --------------------------------------------------------------------------------------------

_MAX_REQUEST_BODY = 64 * 1024


class _BadRequest(Exception):
    pass


class DemoShop:
    """The ASGI application: ``uvicorn.run(DemoShop(Catalog()), ...)``."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        latency_ms: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.catalog = catalog or Catalog()
        self.latency = max(0.0, latency_ms) / 1000
        self.requests = 0
        self._sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        self.requests += 1
        if self.latency:
            await self._sleep(self.latency)
        try:
            status, headers, body = await self._answer(scope, receive)
        except _BadRequest as error:
            status, headers, body = _json(400, {"detail": str(error)})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                    *headers,
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""}
        )

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, list[Any], bytes]:
        method, path = scope["method"], scope["path"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        base = _base_url(scope)
        catalog = self.catalog
        if method in ("GET", "HEAD"):
            if path == "/":
                return _html(200, index_page(catalog.all()))
            if path == "/robots.txt":
                return 200, [(b"content-type", b"text/plain")], b"User-agent: *\nAllow: /\n"
            if path == "/api/products":
                return _json(200, {"products": [p.as_json() for p in catalog.all()]})
            if match := re.fullmatch(r"/api/products/([\w-]+)", path):
                product = catalog.get(match.group(1))
                return _json(200, product.as_json()) if product else _not_found_json()
            if match := re.fullmatch(r"/products/([\w-]+)", path):
                product = catalog.get(match.group(1))
                if product is None:
                    return _html(404, _layout("Not found", "<h1>No such product</h1>"))
                return _html(200, product_page(product, query, base))
            if match := re.fullmatch(r"/images/([\w-]+)\.svg", path):
                product = catalog.get(match.group(1))
                if product is None:
                    return _not_found_json()
                return 200, [(b"content-type", b"image/svg+xml")], _svg(product)
            return _html(404, _layout("Not found", "<h1>Page not found</h1>"))
        if method != "POST":
            return 405, [(b"allow", b"GET, HEAD, POST")], b""
        body = await _read_body(receive)
        if path == "/api/reset":
            catalog.reset()
            return _json(200, {"products": len(catalog.all())})
        if match := re.fullmatch(r"/api/products/([\w-]+)/(price|stock)", path):
            slug, what = match.groups()
            if catalog.get(slug) is None:
                return _not_found_json()
            data = _json_body(body)
            product = _change(catalog, slug, what, data)
            return _json(200, product.as_json())
        if match := re.fullmatch(r"/products/([\w-]+)/control", path):
            slug = match.group(1)
            if catalog.get(slug) is None:
                return _html(404, _layout("Not found", "<h1>No such product</h1>"))
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            if "toggle_stock" in form:
                _change(catalog, slug, "stock", {})
            elif form.get("drop_percent"):
                _change(catalog, slug, "price", {"drop_percent": form["drop_percent"]})
            elif form.get("price"):
                _change(catalog, slug, "price", {"price": form["price"].replace(",", ".")})
            location = f"/products/{quote(slug)}".encode()
            return 303, [(b"location", location)], b""
        return _not_found_json()


def _change(catalog: Catalog, slug: str, what: str, data: dict[str, Any]) -> Product:
    try:
        if what == "stock":
            value = data.get("in_stock")
            if value is not None and not isinstance(value, bool):
                raise _BadRequest("in_stock must be true or false (or left out to toggle)")
            return catalog.set_stock(slug, value)
        if "price" in data:
            return catalog.set_price(slug, _decimal(data["price"], "price"))
        if "drop_percent" in data:
            return catalog.drop_price(slug, _decimal(data["drop_percent"], "drop_percent"))
    except ValueError as error:
        raise _BadRequest(str(error)) from error
    raise _BadRequest('send {"price": "12.34"} or {"drop_percent": 35}')


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _BadRequest(f"{name} must be a number")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as error:
        raise _BadRequest(f"{name} must be a number, not {value!r}") from error


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_REQUEST_BODY:
            raise _BadRequest("request body too large")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as error:
        raise _BadRequest("the body must be JSON") from error
    if not isinstance(data, dict):
        raise _BadRequest("the body must be a JSON object")
    return data


def _base_url(scope: Scope) -> str:
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def _html(status: int, text: str) -> tuple[int, list[Any], bytes]:
    return status, [(b"content-type", b"text/html; charset=utf-8")], text.encode()


def _json(status: int, data: object) -> tuple[int, list[Any], bytes]:
    return status, [(b"content-type", b"application/json")], json.dumps(data).encode()


def _not_found_json() -> tuple[int, list[Any], bytes]:
    return _json(404, {"detail": "No such product."})


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------


def _server(app: DemoShop, **options: Any) -> Any:
    # Imported here: uvicorn only when the shop is served.
    import uvicorn  # noqa: PLC0415

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="auto",
        loop="auto",
        timeout_keep_alive=30,
        **options,
    )
    return uvicorn.Server(config)


def serve(app: DemoShop, *, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve until interrupted (Ctrl-C)."""
    _server(app, host=host, port=port, backlog=4096).run()


@contextlib.contextmanager
def running(app: DemoShop, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve in a background thread; yields the base URL (``http://127.0.0.1:PORT``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    bound = sock.getsockname()[1]
    server = _server(app, host=host, port=bound)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="demo-shop", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo shop did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
