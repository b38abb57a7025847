"""The check pipeline against real HTTP servers on 127.0.0.1, a real database, eager Celery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pricewatch.pricing.models import Availability, Offer, PriceChange, PricePoint
from pricewatch.tracking import checks, demo_shop, tasks
from pricewatch.tracking.models import Check, Page, SiteRule
from tests.core import shop_server as s
from tests.core.shop_server import ShopHandler, ShopServer
from tests.pricing.factories import make_offer

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------- servers


def _page(body: str, content_type: str = "text/html; charset=utf-8") -> s.Route:
    def route(h: ShopHandler) -> None:
        h.reply(200, body.encode("utf-8"), content_type=content_type)

    return route


def _many_prices(h: ShopHandler) -> None:
    tiles = "".join(
        f'<div class="tile"><a href="/p/{i}">Thing {i}</a><span class="price">{i + 3}.99 €</span>'
        "<button>Add to cart</button></div>"
        for i in range(300)
    )
    h.reply(
        200, f"<html><head><title>All things</title></head><body>{tiles}</body></html>".encode()
    )


def _latin1_labelled_utf8(h: ShopHandler) -> None:
    # UTF-8 bytes, labelled windows-1252 by the server and by the page: a mislabelled charset.
    body = "<html><head><meta charset='windows-1252'><title>Café crème</title></head><body>"
    body += "<h1>Café crème</h1><p class=price>12,50 €</p><button>In den Warenkorb</button>"
    h.reply(200, body.encode("utf-8"), content_type="text/html; charset=windows-1252")


def _bogus_charset(h: ShopHandler) -> None:
    h.reply(200, s.PAGE, content_type="text/html; charset=no-such-charset")


def _html_with_nul_bytes(h: ShopHandler) -> None:
    h.reply(200, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)


def _jumps_then_settles(h: ShopHandler) -> None:
    # The first look shows a decimal-separator slip (1999 for 19.99); the second look is right.
    price = "1999.00" if h.hits() % 2 == 1 else "19.99"
    body = f"<html><head><title>Kettle</title></head><body><h1>Kettle</h1><p class=price>{price}"
    h.reply(200, f"{body} EUR</p><button>Add to cart</button></body></html>".encode())


def _sold_out_without_price(h: ShopHandler) -> None:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Kettle",
        # what many shops print for a product they cannot sell now: price 0, out of stock
        "offers": {"@type": "Offer", "price": "0", "availability": "https://schema.org/OutOfStock"},
    }
    h.reply(
        200,
        f'<html><head><script type="application/ld+json">{json.dumps(data)}</script>'
        "<title>Kettle</title></head><body><h1>Kettle</h1><p>Sold out</p></body></html>".encode(),
    )


RULE_PAGE = (
    "<html><head><title>Gadget</title></head><body><h1>Gadget</h1>"
    "<p class=price>99.00</p><p>Members pay <b class=real>79,90</b></p></body></html>"
)

ROUTES: dict[str, s.Route] = {
    "/page": s.page,
    "/missing": s.not_found,
    "/busy": s.always_503,
    "/huge": s.huge_streamed,
    "/trickle": s.trickle,
    "/loop": s.redirect_to("/loop"),
    "/binary": s.binary,
    "/empty": s.empty,
    "/nul": _html_with_nul_bytes,
    "/many-prices": _many_prices,
    "/mislabelled": _latin1_labelled_utf8,
    "/bogus-charset": _bogus_charset,
    "/to-private": s.redirect_to("http://10.0.0.1/admin"),
    "/jumpy": _jumps_then_settles,
    "/sold-out": _sold_out_without_price,
    "/rule": _page(RULE_PAGE),
    "/no-currency": _page(
        "<html><head><title>Pen</title></head><body><h1>Pen</h1><p class=price>Price: 4.20</p>"
        "<button>Add to cart</button></body></html>"
    ),
}


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopServer]:
    with ShopServer(ROUTES) as server:
        yield server


@pytest.fixture(scope="module")
def demo_server() -> Iterator[tuple[demo_shop.DemoShop, str]]:
    app = demo_shop.DemoShop(demo_shop.Catalog(products=12, seed=3))
    with demo_shop.running(app) as base:
        yield app, base


@pytest.fixture
def demo(demo_server: tuple[demo_shop.DemoShop, str]) -> tuple[demo_shop.DemoShop, str]:
    demo_server[0].catalog.reset()
    return demo_server


@pytest.fixture(autouse=True)
def fast_fetching(settings: Any) -> None:
    settings.FETCH_ALLOW_NETWORKS = ["127.0.0.1/32"]
    settings.FETCH_RENDER_FALLBACK = False
    settings.FETCH_PER_HOST_CONCURRENCY = 8
    settings.FETCH_PER_HOST_MIN_DELAY = 0.0
    settings.FETCH_OPTIONS = {
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "total_timeout": 2.0,
        "retries": 0,
        "backoff_base": 0.01,
        "backoff_max": 0.02,
        "max_body_bytes": 1_000_000,
    }


def track(url: str, *, price: str | None = None, title: str = "", image: str = "") -> Page:
    """A tracked page, due and leased as the dispatcher leaves it."""
    offer = make_offer(url=url, price=price, title=title)
    if image:
        Offer.objects.filter(pk=offer.pk).update(image_url=image)
        offer.refresh_from_db()
    now = timezone.now()
    return Page.objects.create(
        offer=offer,
        domain=urlsplit(url).hostname or "",
        due_at=now,
        leased_until=now + timedelta(minutes=10),
    )


def product(app: demo_shop.DemoShop, style: str) -> demo_shop.Product:
    return next(p for p in app.catalog.all() if p.style == style)


def last_check(page: Page) -> Check:
    return Check.objects.filter(page=page).latest("started_at")


# ------------------------------------------------------------------------------- happy paths


def test_first_check_fills_the_offer_and_records_the_price(
    demo: tuple[demo_shop.DemoShop, str],
) -> None:
    # given a newly tracked demo-shop page, leased by the dispatcher
    app, base = demo
    item = product(app, "json-ld")
    page = track(f"{base}/products/{item.slug}")
    # when its first check runs (as "add item" enqueues it)
    tasks.check_page.delay(page.pk, Check.Trigger.FIRST)
    # then the check, the offer, its history and the page all tell the same story
    check = Check.objects.get(page=page)
    assert check.trigger == "first" and check.status == "ok"
    assert check.http_status == 200 and check.bytes > 0 and check.attempts == 1
    assert check.method == "json-ld" and check.confidence and check.confidence >= 0.8
    assert (check.price, check.currency, check.availability) == (item.price, "EUR", "in_stock")
    offer = Offer.objects.get(pk=page.pk)
    assert offer.price == item.price and offer.currency == "EUR"
    assert offer.availability == Availability.IN_STOCK
    assert offer.title == item.name
    assert offer.image_url == f"{base}/images/{item.slug}.svg"
    assert offer.shop == "127.0.0.1"
    point = PricePoint.objects.get(offer=offer)
    assert point.method == "json-ld" and point.price == item.price
    page.refresh_from_db()
    assert page.last_status == "ok" and page.last_error == ""
    assert page.last_checked_at is not None and page.consecutive_failures == 0
    assert page.due_at is None and page.leased_until is None


def test_every_demo_markup_style_is_read_in_one_batch(
    demo: tuple[demo_shop.DemoShop, str],
) -> None:
    # given one page per static markup style, and two variant selections
    app, base = demo
    expected: dict[int, Decimal] = {}
    for style in ("json-ld", "microdata", "opengraph", "plain"):
        item = product(app, style)
        expected[track(f"{base}/products/{item.slug}").pk] = item.price
    variant = product(app, "variant")
    by_size = track(f"{base}/products/{variant.slug}?size=M")
    by_sku = track(f"{base}/products/{variant.slug}?variant={variant.variant_sku('L')}")
    expected[by_size.pk] = variant.variant_price("M")
    expected[by_sku.pk] = variant.variant_price("L")
    # when the dispatcher's task checks them together
    summary = tasks.check_pages.delay(list(expected), Check.Trigger.SCHEDULE).get()
    # then every page has its own, right price
    assert summary == {"checked": 6, "skipped": 0, "ok": 6}
    for page_id, price in expected.items():
        assert Offer.objects.get(pk=page_id).price == price
        assert Check.objects.get(page_id=page_id).trigger == "schedule"
    methods = set(Check.objects.values_list("method", flat=True))
    assert methods == {"json-ld", "microdata", "opengraph", "heuristic"}


def test_a_price_changed_in_the_demo_shop_becomes_a_new_point_and_a_change(
    demo: tuple[demo_shop.DemoShop, str],
) -> None:
    app, base = demo
    item = product(app, "microdata")
    page = track(f"{base}/products/{item.slug}")
    tasks.check_page.delay(page.pk, Check.Trigger.FIRST)
    # when the shop drops the price by 35 % and the page is checked again
    dropped = app.catalog.drop_price(item.slug, Decimal(35))
    tasks.check_page.delay(page.pk, Check.Trigger.MANUAL)
    # then the history has both prices and the outbox the drop
    assert list(PricePoint.objects.order_by("observed_at").values_list("price", flat=True)) == [
        item.price,
        dropped.price,
    ]
    change = PriceChange.objects.get(offer_id=page.pk)
    assert (change.old_price, change.new_price) == (item.price, dropped.price)
    assert last_check(page).trigger == "manual"


def test_an_implausible_jump_that_a_second_look_confirms_is_recorded(
    demo: tuple[demo_shop.DemoShop, str],
) -> None:
    app, base = demo
    item = product(app, "opengraph")
    page = track(f"{base}/products/{item.slug}", price=str(item.price))
    # when the price really is ten times higher now
    app.catalog.set_price(item.slug, item.price * 10)
    tasks.check_page.delay(page.pk, Check.Trigger.SCHEDULE)
    # then it was fetched twice and believed
    check = last_check(page)
    assert check.status == "ok" and check.attempts == 2
    assert Offer.objects.get(pk=page.pk).price == item.price * 10


def test_an_implausible_jump_that_a_second_look_contradicts_is_not_recorded(
    shop: ShopServer,
) -> None:
    # given a page last seen at 19.99 EUR that now shows 1999.00 once, then 19.99 again
    page = track(shop.url("/jumpy"), price="19.99")
    before = shop.state.hits["/jumpy"]
    tasks.check_page.delay(page.pk, Check.Trigger.SCHEDULE)
    # then the check is unconfirmed, says why, and nothing reached the history
    check = last_check(page)
    assert check.status == "unconfirmed" and check.price == Decimal("1999.00")
    assert "19.99 EUR to 1999 EUR, which looks wrong" in check.error
    assert "showed 19.99" in check.error
    assert PricePoint.objects.filter(offer_id=page.pk).count() == 1  # the factory's first point
    assert Offer.objects.get(pk=page.pk).price == Decimal("19.99")
    # the second look asked caches for a fresh copy
    first_look, second_look = shop.requests_to("/jumpy")[before:]
    assert "cache-control" not in first_look.headers
    assert second_look.headers.get("cache-control") == "no-cache"
    page.refresh_from_db()
    assert page.last_status == "unconfirmed" and page.due_at is None
    assert page.consecutive_failures == 0


def test_a_site_rule_for_the_domain_chooses_price_and_currency(shop: ShopServer) -> None:
    SiteRule.objects.create(domain="127.0.0.1", price_selector="b.real", currency="CHF")
    page = track(shop.url("/rule"))
    tasks.check_page.delay(page.pk, Check.Trigger.FIRST)
    check = last_check(page)
    assert (check.status, check.method, check.price, check.currency) == (
        "ok",
        "site-rule",
        Decimal("79.90"),
        "CHF",
    )


def test_a_sold_out_page_without_price_records_the_stock_and_is_no_failure(
    shop: ShopServer,
) -> None:
    page = track(shop.url("/sold-out"), price="10.00")
    tasks.check_page.delay(page.pk, Check.Trigger.SCHEDULE)
    check = last_check(page)
    assert check.status == "no_price" and check.availability == "out_of_stock"
    assert check.error == "No price on the page; the shop says the product is out of stock."
    offer = Offer.objects.get(pk=page.pk)
    assert offer.availability == "out_of_stock" and offer.price == Decimal("10.00")
    page.refresh_from_db()
    assert page.consecutive_failures == 0 and page.last_error == check.error


def test_a_price_without_currency_uses_the_offers_currency_or_says_it_is_missing(
    shop: ShopServer,
) -> None:
    known = track(shop.url("/no-currency"), price="4.00")  # the factory's offer is in EUR
    unknown = track(shop.url("/no-currency") + "?fresh=1")
    tasks.check_pages.delay([known.pk, unknown.pk], Check.Trigger.SCHEDULE)
    assert (last_check(known).status, last_check(known).currency) == ("ok", "EUR")
    missing = last_check(unknown)
    assert missing.status == "no_price" and missing.error_code == "no_currency"
    assert "not its currency" in missing.error
    assert not PricePoint.objects.filter(offer_id=unknown.pk).exists()


# ------------------------------------------------------------------------------- bad input


BAD_INPUT = [
    # (path or URL, status, error code, words the user reads)
    ("/missing", "error", "http_error", "The shop answered 404 Not Found."),
    ("/busy", "error", "http_error", "The shop answered 503 Service Unavailable"),
    ("/huge", "error", "too_large", "larger than the 1 MB pricewatch reads"),
    ("/trickle", "error", "timeout", "The shop took too long to send the page."),
    ("/loop", "error", "too_many_redirects", "The page redirects in a loop."),
    ("/binary", "error", "not_html", "a file of type application/octet-stream, not a web page"),
    ("/nul", "error", "not_html", "binary data, not a web page"),
    ("/empty", "error", "empty_body", "The shop answered with an empty page."),
    ("/many-prices", "no_price", "many_prices", "many different prices"),
    ("/to-private", "error", "blocked_address", "Refusing to contact 10.0.0.1"),
    ("http://10.0.0.1/product", "error", "blocked_address", "it is a private network address"),
    ("http://[::1]:9/x", "error", "blocked_address", "Refusing to contact ::1"),
    ("javascript:alert(1)", "error", "bad_scheme", "not javascript: URLs"),
    ("file:///etc/passwd", "error", "bad_scheme", "not file: URLs"),
    ("ftp://ftp.example.com/price.html", "error", "bad_scheme", "not ftp: URLs"),
    ("no url at all", "error", "bad_url", "URL"),
]


def test_bad_input_each_ends_as_a_clear_error_and_the_good_page_still_records(
    shop: ShopServer,
) -> None:
    # given one batch mixing every kind of bad page with a good one
    pages = {
        where: track(shop.url(where) if where.startswith("/") else where) for where, *_ in BAD_INPUT
    }
    good = track(shop.url("/page"))
    # when the batch is checked
    summary = tasks.check_pages.delay(
        [good.pk, *(p.pk for p in pages.values())], Check.Trigger.SCHEDULE
    ).get()
    # then every page has one check with a clear error, and no price was recorded for any
    assert summary["checked"] == len(BAD_INPUT) + 1
    for where, status, code, words in BAD_INPUT:
        page = Page.objects.get(pk=pages[where].pk)
        check = Check.objects.get(page=page)
        assert (check.status, check.error_code) == (status, code), (where, check.error)
        assert words in check.error, (where, check.error)
        assert page.last_status == status and page.last_error == check.error
        assert page.consecutive_failures == 1
        assert page.due_at is None and page.leased_until is None
        assert not PricePoint.objects.filter(offer_id=page.pk).exists()
    assert last_check(good).status == "ok"
    assert Offer.objects.get(pk=good.pk).price == Decimal("19.99")
    blocked = Check.objects.get(page=pages["/to-private"])
    assert blocked.http_status == 302  # what the shop answered before the refused hop


@pytest.mark.parametrize("path", ["/mislabelled", "/bogus-charset"])
def test_wrong_charsets_still_give_the_right_price(shop: ShopServer, path: str) -> None:
    page = track(shop.url(path))
    tasks.check_page.delay(page.pk, Check.Trigger.FIRST)
    check = last_check(page)
    assert check.status == "ok", check.error
    assert check.price in {Decimal("12.50"), Decimal("19.99")}
    if path == "/mislabelled":
        assert Offer.objects.get(pk=page.pk).title == "Café crème"


def test_a_batch_never_outlives_its_time_bound(shop: ShopServer, settings: Any) -> None:
    # given a page that never finishes and a fetch timeout longer than the batch may take
    settings.FETCH_OPTIONS = {**settings.FETCH_OPTIONS, "total_timeout": 60, "read_timeout": 30}
    settings.TRACKING_CHECK_LEASE_SECONDS = 2  # -> a 1 s batch
    page = track(shop.url("/trickle"))
    # when it is checked, then the check stops at the bound and says so
    tasks.check_page.delay(page.pk, Check.Trigger.SCHEDULE)
    check = last_check(page)
    assert (check.status, check.error_code) == ("error", "timeout")
    assert check.error == "The check took longer than 1 seconds and was stopped."


def test_consecutive_failures_count_up_and_reset_on_success(shop: ShopServer) -> None:
    page = track(shop.url("/missing"))
    for _ in range(2):
        tasks.check_page.delay(page.pk, Check.Trigger.SCHEDULE)
    page.refresh_from_db()
    assert page.consecutive_failures == 2
    Offer.objects.filter(pk=page.pk).update(url=shop.url("/page"))
    tasks.check_page.delay(page.pk, Check.Trigger.SCHEDULE)
    page.refresh_from_db()
    assert (page.consecutive_failures, page.last_status, page.last_error) == (0, "ok", "")


# ------------------------------------------------------------------------ robustness


def test_pages_deleted_before_or_during_the_check_are_skipped(
    shop: ShopServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, gone_during, gone_before = (track(shop.url(f"/page?n={n}")) for n in range(3))
    gone_before_id = gone_before.pk
    gone_before.offer.delete()
    real_run = checks._run

    def run_then_delete(jobs: list[checks.PageJob]) -> list[checks.Outcome]:
        outcomes = real_run(jobs)
        Offer.objects.filter(pk=gone_during.pk).delete()  # the user removed it meanwhile
        return outcomes

    monkeypatch.setattr(checks, "_run", run_then_delete)
    summary = tasks.check_pages.delay(
        [kept.pk, gone_during.pk, gone_before_id], Check.Trigger.SCHEDULE
    ).get()
    assert summary == {"checked": 1, "skipped": 2, "ok": 1}
    assert list(Check.objects.values_list("page_id", flat=True)) == [kept.pk]


def test_an_unexpected_error_on_one_page_does_not_cost_the_others(
    shop: ShopServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cursed, fine = track(shop.url("/page?cursed=1")), track(shop.url("/page"))
    real_read = checks._read

    def read(result: Any, job: checks.PageJob) -> Any:
        if "cursed" in job.url:
            raise RuntimeError("a bug")
        return real_read(result, job)

    monkeypatch.setattr(checks, "_read", read)
    tasks.check_pages.delay([cursed.pk, fine.pk], Check.Trigger.SCHEDULE)
    broken = last_check(cursed)
    assert (broken.status, broken.error_code) == ("error", "internal_error")
    assert broken.error == "Something went wrong on our side while checking this page."
    assert last_check(fine).status == "ok"


def test_a_write_failing_for_one_page_falls_back_to_page_by_page(
    shop: ShopServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    unlucky, lucky = track(shop.url("/page?x=1")), track(shop.url("/page?x=2"))
    real_describe = checks.pricing.describe_offer

    def describe(*, offer: Offer, **kwargs: Any) -> None:
        if offer.pk == unlucky.pk:
            raise RuntimeError("the database said no")
        real_describe(offer=offer, **kwargs)

    monkeypatch.setattr(checks.pricing, "describe_offer", describe)
    tasks.check_pages.delay([unlucky.pk, lucky.pk], Check.Trigger.FIRST)
    assert last_check(lucky).status == "ok"
    assert Offer.objects.get(pk=lucky.pk).price == Decimal("19.99")
    failed = last_check(unlucky)
    assert (failed.status, failed.error_code) == ("error", "internal_error")
    assert not PricePoint.objects.filter(offer_id=unlucky.pk).exists()
    assert Page.objects.get(pk=unlucky.pk).due_at is None


def test_unknown_trigger_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown trigger"):
        checks.check_pages(page_ids=[], trigger="whenever")


def test_queries_do_not_grow_with_the_batch(demo: tuple[demo_shop.DemoShop, str]) -> None:
    app, base = demo
    items = [p for p in app.catalog.all() if p.style in ("json-ld", "opengraph")]

    def pages(n: int, tag: str) -> list[int]:
        return [
            track(f"{base}/products/{p.slug}?{tag}", title="known", image="http://i/x.png").pk
            for p in items[:n]
        ]

    small, large = pages(2, "a"), pages(4, "b")
    counts = []
    for ids in (small, large):
        with CaptureQueriesContext(connection) as queries:
            tasks.check_pages.delay(ids, Check.Trigger.SCHEDULE)
        counts.append(len(queries))
    assert Check.objects.filter(status="ok").count() == 6
    assert counts[0] == counts[1]


# ------------------------------------------------------------------------------- rendering


@pytest.mark.browser
def test_javascript_pages_are_rendered_by_rule_or_by_fallback(
    demo: tuple[demo_shop.DemoShop, str], settings: Any
) -> None:
    # given the demo shop's script-priced page, tracked twice: the static HTML has no price
    settings.FETCH_OPTIONS = {**settings.FETCH_OPTIONS, "total_timeout": 20.0}
    app, base = demo
    item = product(app, "javascript")
    by_fallback = track(f"{base}/products/{item.slug}")
    settings.FETCH_RENDER_FALLBACK = False
    tasks.check_page.delay(by_fallback.pk, Check.Trigger.FIRST)
    assert last_check(by_fallback).status == "no_price"  # without Chromium: no price
    # when the render fallback is on
    settings.FETCH_RENDER_FALLBACK = True
    tasks.check_page.delay(by_fallback.pk, Check.Trigger.MANUAL)
    assert last_check(by_fallback).status == "ok"
    assert Offer.objects.get(pk=by_fallback.pk).price == item.price
    # and with a site rule that asks for rendering (fallback off again)
    settings.FETCH_RENDER_FALLBACK = False
    SiteRule.objects.create(domain="127.0.0.1", render_javascript=True)
    by_rule = track(f"{base}/products/{item.slug}?via=rule")
    tasks.check_page.delay(by_rule.pk, Check.Trigger.FIRST)
    check = last_check(by_rule)
    assert check.status == "ok" and check.price == item.price
    assert check.attempts == 1  # rendered at once, no static fetch first


# ------------------------------------------------------------------------------- the CLI


def test_check_command_prints_what_it_found_and_writes_nothing(
    demo: tuple[demo_shop.DemoShop, str], capsys: pytest.CaptureFixture[str]
) -> None:
    app, base = demo
    item = product(app, "json-ld")
    call_command("check", f"{base}/products/{item.slug}", "--json")
    found = json.loads(capsys.readouterr().out)
    assert found["status"] == "ok" and found["price"] == str(item.price)
    assert found["currency"] == "EUR" and found["availability"] == "in_stock"
    assert found["title"] == item.name and found["method"] == "json-ld"
    assert found["http_status"] == 200 and found["bytes"] > 0
    assert found["confidence"] >= 0.8 and found["duration_ms"] >= 0
    call_command("check", f"{base}/products/{item.slug}")
    text = capsys.readouterr().out
    assert f"price:        {item.price} EUR" in text and "method:       json-ld" in text
    assert not Check.objects.exists() and not Offer.objects.exists()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.0.0.1/", "Refusing to contact 10.0.0.1: it is a private network address."),
        ("javascript:alert(1)", "not javascript: URLs"),
    ],
)
def test_check_command_fails_with_a_clear_error(
    url: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        call_command("check", url)
    assert exit_info.value.code == 1
    assert words in capsys.readouterr().err


def test_check_command_exits_1_when_the_page_has_no_price(
    shop: ShopServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        call_command("check", shop.url("/sold-out"), "--json")
    assert exit_info.value.code == 1
    assert json.loads(capsys.readouterr().out)["status"] == "no_price"
