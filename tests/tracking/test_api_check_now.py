""" "Check now" for a list or an item: leased, sent at once, rate-limited per user; and the
first check of a new URL, end to end against a shop on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from pricewatch.pricing.models import Offer, PricePoint
from pricewatch.tracking.models import Check, Page
from tests.accounts.conftest import Api
from tests.accounts.factories import UserFactory
from tests.core.shop_server import ShopHandler, ShopServer
from tests.pricing.factories import make_offer
from tests.tracking.factories import Enqueued, make_item, make_page, make_watchlist, record_enqueued

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def ann(db: None) -> Any:
    return UserFactory()


@pytest.fixture
def token(api: Api, ann: Any) -> str:
    return str(api.login(ann.email)["access_token"])


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Enqueued:
    return record_enqueued(monkeypatch)


def test_check_a_list_now_sends_its_pages_with_the_manual_trigger(
    api: Api, token: str, ann: Any, sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    watchlist = make_watchlist(ann)
    free, busy = make_page(), make_page(leased_until=datetime.now(UTC) + timedelta(minutes=5))
    make_item(watchlist, free)
    make_item(watchlist, busy)
    make_item(watchlist, make_offer(kind="catalog", price="5.00"))

    with django_capture_on_commit_callbacks(execute=True):
        response = api.call("POST", f"{V1}/watchlists/{watchlist.pk}/check", token=token)

    assert response.status_code == 202
    assert response.json() == {"queued": 1, "already_running": 1, "not_checkable": 1}
    assert sent.batches == [([free.pk], "manual", None)]
    page = Page.objects.get(pk=free.pk)
    assert page.due_at is not None and page.leased_until is not None


def test_check_an_item_now(
    api: Api, token: str, ann: Any, sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    item = make_item(make_watchlist(ann))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.call("POST", f"{V1}/watch-items/{item.pk}/check", token=token)
    assert response.status_code == 202
    assert response.json()["queued"] == 1
    assert sent.page_ids == [item.offer_id]


def test_check_now_is_rate_limited_per_user_with_retry_after(
    api: Api, token: str, ann: Any, sent: Enqueued, settings: Any
) -> None:
    settings.TRACKING_CHECK_NOW_RATE = "2/m"
    item = make_item(make_watchlist(ann))
    url = f"{V1}/watch-items/{item.pk}/check"

    statuses = [api.call("POST", url, token=token).status_code for _ in range(3)]

    assert statuses == [202, 202, 429]
    refused = api.call("POST", url, token=token)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["code"] == "throttled"
    # another user has their own allowance
    bob = UserFactory()
    bob_token = api.login(bob.email)["access_token"]
    bob_item = make_item(make_watchlist(bob))
    assert (
        api.call("POST", f"{V1}/watch-items/{bob_item.pk}/check", token=bob_token).status_code
        == 202
    )


# --- end to end: a real check against a shop on 127.0.0.1 ---------------------------------------

PRODUCT = b"""<html><head><title>Kettle</title>
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "Product", "name": "Steel kettle",
 "image": "https://cdn.example/kettle.jpg",
 "offers": {"@type": "Offer", "price": "%s", "priceCurrency": "EUR",
            "availability": "https://schema.org/InStock"}}
</script></head><body><h1>Steel kettle</h1></body></html>"""


class Shop:
    def __init__(self) -> None:
        self.price = "39.90"

    def product(self, handler: ShopHandler) -> None:
        handler.reply(200, PRODUCT % self.price.encode())


@pytest.fixture
def shop() -> Iterator[tuple[ShopServer, Shop]]:
    state = Shop()
    with ShopServer({"/kettle": state.product}) as server:
        yield server, state


def test_adding_a_url_fetches_it_at_once_and_check_now_records_a_new_price(
    api: Api,
    token: str,
    ann: Any,
    shop: tuple[ShopServer, Shop],
    django_capture_on_commit_callbacks: Any,
) -> None:
    server, state = shop
    watchlist = make_watchlist(ann)

    # when a user adds the shop's product page
    with django_capture_on_commit_callbacks(execute=True):
        added = api.call(
            "POST",
            f"{V1}/watchlists/{watchlist.pk}/items",
            {"url": server.url("/kettle?utm_source=test")},
            token=token,
        )
    assert added.status_code == 201, added.content

    # then its first check ran and filled title, image, price and availability
    item = api.call("GET", f"{V1}/watch-items/{added.json()['id']}", token=token).json()
    assert item["title"] == "Steel kettle"
    assert (item["price"], item["currency"], item["availability"]) == ("39.90", "EUR", "in_stock")
    assert item["last_check"]["status"] == "ok" and item["last_check"]["due"] is False
    assert server.requests_to("/kettle")[0].path == "/kettle"
    checks = api.call("GET", f"{V1}/watch-items/{item['id']}/checks", token=token).json()
    assert [(c["trigger"], c["status"], c["price"]) for c in checks["items"]] == [
        ("first", "ok", "39.90")
    ]

    # when the shop lowers the price and the user asks for a check now
    state.price = "29.90"
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            api.call("POST", f"{V1}/watch-items/{item['id']}/check", token=token).status_code == 202
        )

    item = api.call("GET", f"{V1}/watch-items/{item['id']}", token=token).json()
    assert item["price"] == "29.90" and item["first_price"] == "39.90"
    assert item["change_since_first_percent"] == "-25.1"
    offer = Offer.objects.get(pk=item["offer_id"])
    assert list(
        PricePoint.objects.filter(offer=offer).values_list("price", flat=True).order_by("id")
    ) == [
        Decimal("39.90"),
        Decimal("29.90"),
    ]
    assert Check.objects.filter(page_id=offer.pk).count() == 2
    history = api.call("GET", f"{V1}/watch-items/{item['id']}/history?interval=raw", token=token)
    assert history.json()["series"]["price"] == ["39.90", "29.90"]
