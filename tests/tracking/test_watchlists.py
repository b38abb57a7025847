"""Watchlists and their items through the API: each user sees only their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pricewatch.catalog.models import Product
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Availability, Offer
from pricewatch.tracking.models import Page, WatchItem, Watchlist
from tests.accounts.conftest import Api
from tests.accounts.factories import UserFactory
from tests.tracking.factories import (
    Enqueued,
    make_item,
    make_page,
    make_watchlist,
    record_enqueued,
)

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Enqueued:
    return record_enqueued(monkeypatch)


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def ann(db: None) -> Any:
    return UserFactory(email="ann@example.com", time_zone="Europe/Berlin")


@pytest.fixture
def token(api: Api, ann: Any) -> str:
    return str(api.login(ann.email)["access_token"])


def make_product(sku: str = "SKU-1", price: str = "25.00", active: bool = True) -> Product:
    offer = pricing.create_offer(
        kind=Offer.Kind.CATALOG,
        title=f"Product {sku}",
        observation=pricing.Observation(
            price=Decimal(price), currency="EUR", method="test", availability=Availability.IN_STOCK
        ),
    )
    return Product.objects.create(
        sku=sku,
        title=f"Product {sku}",
        offer=offer,
        active=active,
    )


# --- lists -------------------------------------------------------------------------------------


def test_create_list_with_the_default_schedule_in_the_owners_zone(api: Api, ann: Any) -> None:
    with time_machine.travel(datetime(2026, 5, 4, 12, 0, tzinfo=UTC), tick=False):
        token = api.login(ann.email)["access_token"]
        response = api.call("POST", f"{V1}/watchlists", {"name": "  Kitchen  "}, token=token)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Kitchen"
    assert body["item_count"] == 0
    assert body["schedule"] == {
        "kind": "times",
        "times": ["09:00"],
        "weekdays": [],
        "time_zone": "Europe/Berlin",
        "time_zone_is_owners": True,
        "interval_minutes": None,
    }
    # 09:00 in Berlin (CEST) is 07:00 UTC, tomorrow
    assert body["next_due_at"].startswith("2026-05-05T07:00:00")
    assert len(body["next_runs"]) == 3


def test_create_list_with_times_weekdays_and_zone(api: Api, token: str) -> None:
    schedule = {"times": ["18:30", "07:00"], "weekdays": [1, 5], "time_zone": "America/New_York"}
    response = api.call(
        "POST", f"{V1}/watchlists", {"name": "Gifts", "schedule": schedule}, token=token
    )
    assert response.status_code == 201, response.content
    assert response.json()["schedule"]["times"] == ["07:00", "18:30"]
    assert response.json()["schedule"]["weekdays"] == [1, 5]
    assert response.json()["schedule"]["time_zone_is_owners"] is False


def test_list_names_are_unique_per_user_ignoring_case(api: Api, token: str, ann: Any) -> None:
    make_watchlist(ann, "Kitchen")
    make_watchlist(UserFactory(), "Garden")  # another user's name is free

    taken = api.call("POST", f"{V1}/watchlists", {"name": "KITCHEN"}, token=token)
    free = api.call("POST", f"{V1}/watchlists", {"name": "garden"}, token=token)

    assert taken.status_code == 409
    assert taken.json()["code"] == "duplicate_name"
    assert "Kitchen" in taken.json()["detail"] or "KITCHEN" in taken.json()["detail"]
    assert free.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "A", "schedule": {"times": ["25:00"]}}, "schedule.times"),
        ({"name": "A", "schedule": {"times": []}}, "schedule.times"),
        ({"name": "A", "schedule": {"times": ["09:00"], "weekdays": [0]}}, "schedule.weekdays"),
        (
            {"name": "A", "schedule": {"times": ["09:00"], "time_zone": "Mars/X"}},
            "schedule.time_zone",
        ),
        ({"name": "A", "schedule": {"interval_minutes": 4}}, "schedule.interval_minutes"),
        ({"name": "A", "schedule": {"interval_minutes": 0}}, "schedule.interval_minutes"),
        (
            {"name": "A", "schedule": {"interval_minutes": 60, "times": ["09:00"]}},
            "schedule.interval_minutes",
        ),
        ({"name": "A", "colour": "red"}, "colour"),
        ({"name": "A", "schedule": {"every": 5}}, "schedule.every"),
    ],
)
def test_bad_list_input_is_refused_naming_the_field(
    api: Api, token: str, payload: dict[str, Any], field: str
) -> None:
    response = api.call("POST", f"{V1}/watchlists", payload, token=token)
    assert response.status_code in {400, 422}, response.content
    assert field in response.json()["fields"], response.json()


def test_interval_minimum_is_five_minutes_unless_staff(api: Api) -> None:
    staff = UserFactory(is_staff=True)
    token = api.login(staff.email)["access_token"]
    response = api.call(
        "POST",
        f"{V1}/watchlists",
        {"name": "Fast", "schedule": {"interval_minutes": 1}},
        token=token,
    )
    assert response.status_code == 201
    assert response.json()["schedule"]["interval_minutes"] == 1


def test_rename_reschedule_pause_and_resume(api: Api, token: str, ann: Any) -> None:
    watchlist = make_watchlist(ann, "Old", next_due_at=datetime(2026, 1, 1, tzinfo=UTC))
    make_watchlist(ann, "Taken")
    url = f"{V1}/watchlists/{watchlist.pk}"

    assert api.call("PATCH", url, {"name": "taken"}, token=token).status_code == 409
    renamed = api.call("PATCH", url, {"name": "New"}, token=token)
    assert renamed.json()["name"] == "New"
    same_name_other_case = api.call("PATCH", url, {"name": "NEW"}, token=token)
    assert same_name_other_case.status_code == 200

    with time_machine.travel(datetime(2026, 5, 4, 12, 0, tzinfo=UTC), tick=False):
        then = api.login(ann.email)["access_token"]
        body = api.call("PATCH", url, {"schedule": {"interval_minutes": 60}}, token=then).json()
    assert body["schedule"]["kind"] == "interval"
    assert body["next_due_at"].startswith("2026-05-04T13:00:00")

    paused = api.call("PATCH", url, {"paused": True}, token=token).json()
    assert paused["paused"] is True and paused["next_due_at"] is None
    assert paused["next_runs"] == []
    resumed = api.call("PATCH", url, {"paused": False}, token=token).json()
    assert resumed["next_due_at"] is not None


def test_next_runs_preview_for_a_list_and_for_an_unsaved_schedule(api: Api, ann: Any) -> None:
    watchlist = make_watchlist(ann, times=["02:30"], time_zone="Europe/Berlin")
    with time_machine.travel(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), tick=False):
        token = api.login(ann.email)["access_token"]
        saved = api.call(
            "GET", f"{V1}/watchlists/{watchlist.pk}/next-runs?count=2", token=token
        ).json()
        unsaved = api.call(
            "POST",
            f"{V1}/schedules/preview?count=2",
            {"times": ["09:00"], "weekdays": [7]},
            token=token,
        ).json()
        bad = api.call("POST", f"{V1}/schedules/preview", {"times": ["9am"]}, token=token)

    # the DST gap: 02:30 on 29 March runs at 03:00 CEST (01:00 UTC)
    assert saved["next_runs"][0].startswith("2026-03-29T01:00:00")
    assert unsaved["time_zone"] == "Europe/Berlin"
    assert unsaved["next_runs"][0].startswith("2026-03-29T07:00:00")  # Sunday 09:00 CEST
    assert bad.status_code == 422


def test_lists_with_item_counts_in_a_fixed_number_of_queries(
    api: Api, token: str, ann: Any
) -> None:
    def lists_query_count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.call("GET", f"{V1}/watchlists", token=token)
        assert response.status_code == 200
        return len(queries)

    first = make_watchlist(ann, "A")
    make_item(first)
    few = lists_query_count()
    for index in range(5):
        watchlist = make_watchlist(ann, f"More {index}")
        for _ in range(3):
            make_item(watchlist)

    assert lists_query_count() == few
    body = api.call("GET", f"{V1}/watchlists", token=token).json()
    assert [row["item_count"] for row in body] == [1, 3, 3, 3, 3, 3]


def test_delete_list_removes_its_items_but_keeps_offers_others_watch(
    api: Api, token: str, ann: Any
) -> None:
    shared = make_page(price="10.00")
    mine = make_watchlist(ann)
    make_item(mine, shared)
    theirs = make_item(make_watchlist(UserFactory()), shared)

    response = api.call("DELETE", f"{V1}/watchlists/{mine.pk}", token=token)

    assert response.status_code == 204
    assert not Watchlist.objects.filter(pk=mine.pk).exists()
    assert list(WatchItem.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert Offer.objects.filter(pk=shared.pk).exists()


def test_another_users_list_and_items_are_not_found(api: Api, token: str) -> None:
    stranger = UserFactory()
    theirs = make_watchlist(stranger, "Secret")
    item = make_item(theirs)

    for method, path, body in [
        ("GET", f"{V1}/watchlists/{theirs.pk}", None),
        ("PATCH", f"{V1}/watchlists/{theirs.pk}", {"name": "Mine now"}),
        ("DELETE", f"{V1}/watchlists/{theirs.pk}", None),
        ("GET", f"{V1}/watchlists/{theirs.pk}/items", None),
        ("POST", f"{V1}/watchlists/{theirs.pk}/items", {"url": "https://shop.example/x"}),
        ("POST", f"{V1}/watchlists/{theirs.pk}/check", None),
        ("GET", f"{V1}/watch-items/{item.pk}", None),
        ("PATCH", f"{V1}/watch-items/{item.pk}", {"note": "hi"}),
        ("DELETE", f"{V1}/watch-items/{item.pk}", None),
        ("POST", f"{V1}/watch-items/{item.pk}/check", None),
        ("GET", f"{V1}/watch-items/{item.pk}/checks", None),
        ("GET", f"{V1}/watch-items/{item.pk}/history", None),
    ]:
        response = api.call(method, path, body, token=token)
        assert response.status_code == 404, (method, path, response.content)
    assert Watchlist.objects.get(pk=theirs.pk).name == "Secret"
    assert WatchItem.objects.filter(pk=item.pk).exists()
    assert api.call("GET", f"{V1}/watchlists", token=token).json() == []


def test_anonymous_requests_are_refused(api: Api) -> None:
    assert api.call("GET", f"{V1}/watchlists").status_code == 401
    assert api.call("POST", f"{V1}/watchlists", {"name": "x"}).status_code == 401


# --- items -------------------------------------------------------------------------------------


def test_add_by_url_creates_a_shared_page_and_asks_for_its_first_check(
    api: Api, token: str, ann: Any, sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    watchlist = make_watchlist(ann)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.call(
            "POST",
            f"{V1}/watchlists/{watchlist.pk}/items",
            {
                "url": "HTTPS://Shop.Example/p/1?utm_source=mail&size=M#reviews",
                "target_price": "19.99",
                "note": "for the kitchen",
            },
            token=token,
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["url"] == "https://shop.example/p/1?size=M"
    assert body["target_price"] == "19.99"
    assert body["note"] == "for the kitchen"
    assert body["price"] is None and body["last_check"]["status"] == ""
    assert body["last_check"]["due"] is True
    offer = Offer.objects.get(url="https://shop.example/p/1?size=M")
    assert offer.kind == Offer.Kind.PAGE
    assert Page.objects.get(pk=offer.pk).domain == "shop.example"
    assert sent.first == [offer.pk]


def test_a_url_someone_already_tracks_is_shared_and_not_fetched_again(
    api: Api, token: str, ann: Any, sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    # given Bob tracks the page already and it has a price
    offer = make_page(
        "https://shop.example/p/7",
        price="49.00",
        checked_at=datetime(2026, 1, 1, tzinfo=UTC),
        last_status="ok",
    )
    make_item(make_watchlist(UserFactory()), offer)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.call(
            "POST",
            f"{V1}/watchlists/{make_watchlist(ann).pk}/items",
            {"url": "https://SHOP.example/p/7?fbclid=xyz"},
            token=token,
        )

    assert response.status_code == 201
    assert response.json()["offer_id"] == offer.pk
    assert response.json()["price"] == "49.00"
    assert Offer.objects.filter(kind=Offer.Kind.PAGE).count() == 1
    assert sent.first == [] and sent.batches == []


def test_a_new_page_added_twice_before_its_first_check_is_fetched_once(
    api: Api, token: str, ann: Any, sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    first, second = make_watchlist(ann, "One"), make_watchlist(ann, "Two")
    with django_capture_on_commit_callbacks(execute=True):
        for watchlist in (first, second):
            response = api.call(
                "POST",
                f"{V1}/watchlists/{watchlist.pk}/items",
                {"url": "https://shop.example/new"},
                token=token,
            )
            assert response.status_code == 201
    assert len(sent.first) == 1


def test_adding_the_same_page_twice_to_a_list_is_a_conflict(
    api: Api, token: str, ann: Any, sent: Enqueued
) -> None:
    watchlist = make_watchlist(ann)
    url = f"{V1}/watchlists/{watchlist.pk}/items"
    assert (
        api.call("POST", url, {"url": "https://shop.example/a?x=1"}, token=token).status_code == 201
    )
    again = api.call("POST", url, {"url": "https://shop.example/a?x=1&utm_medium=x"}, token=token)
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_item"


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"url": "not a url"}, 400, "is not a URL"),
        ({"url": "javascript:alert(1)"}, 400, "'javascript:'"),
        ({"url": "file:///etc/passwd"}, 400, "'file:'"),
        ({"url": "ftp://shop.example/x"}, 400, "'ftp:'"),
        ({"url": "https://a:b@shop.example/"}, 400, "user name or password"),
        ({"url": "http://10.0.0.5/"}, 400, "Refusing to track http://10.0.0.5/: it is a private"),
        ({"url": "http://169.254.169.254/latest"}, 400, "link-local"),
        ({"url": "http://[::ffff:192.168.0.1]/"}, 400, "Refusing to track"),
        ({"url": "https://shop.example/x", "product_id": 1}, 422, "either url or product_id"),
        ({}, 422, "either url or product_id"),
        ({"url": "https://shop.example/x", "target_price": "-1"}, 422, "target price"),
        ({"url": "https://shop.example/x", "target_price": "abc"}, 422, "target_price"),
        ({"url": "https://shop.example/x", "note": "n" * 2001}, 422, "note"),
        ({"url": "https://shop.example/x", "extra": 1}, 422, "Unknown field"),
    ],
)
def test_bad_items_are_refused_with_a_clear_message(
    api: Api,
    token: str,
    ann: Any,
    sent: Enqueued,
    payload: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    watchlist = make_watchlist(ann)
    response = api.call("POST", f"{V1}/watchlists/{watchlist.pk}/items", payload, token=token)
    assert response.status_code == status, response.content
    assert fragment in response.content.decode()
    assert not Offer.objects.exists()


def test_allow_listed_private_addresses_may_be_tracked(
    api: Api, token: str, ann: Any, sent: Enqueued, settings: Any
) -> None:
    settings.FETCH_ALLOW_NETWORKS = ["127.0.0.1:8001", "10.1.0.0/16"]
    watchlist = make_watchlist(ann)
    url = f"{V1}/watchlists/{watchlist.pk}/items"
    assert (
        api.call("POST", url, {"url": "http://127.0.0.1:8001/p/1"}, token=token).status_code == 201
    )
    assert api.call("POST", url, {"url": "http://10.1.2.3/p"}, token=token).status_code == 201
    refused = api.call("POST", url, {"url": "http://127.0.0.1:8002/p/1"}, token=token)
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "Refusing to track http://127.0.0.1:8002/p/1: it is a loopback address."
    )
    by_name = api.call("POST", url, {"url": "localhost:8002/p"}, token=token)
    assert by_name.status_code == 400
    assert by_name.json()["detail"].startswith(
        "Refusing to track https://localhost:8002/p: it resolves to"
    )
    assert by_name.json()["code"] == "blocked_address"


def test_add_a_catalog_product(api: Api, token: str, ann: Any, sent: Enqueued) -> None:
    product = make_product(price="25.00")
    inactive = make_product("SKU-2", active=False)
    watchlist = make_watchlist(ann)
    url = f"{V1}/watchlists/{watchlist.pk}/items"

    response = api.call("POST", url, {"product_id": product.pk, "target_price": "20"}, token=token)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["product_id"], body["offer_id"], body["kind"]) == (
        product.pk,
        product.offer_id,
        "catalog",
    )
    assert body["price"] == "25.00" and body["first_price"] == "25.00"
    assert body["last_check"] is None
    assert body["target_reached"] is False
    assert api.call("POST", url, {"product_id": 999999}, token=token).status_code == 404
    assert api.call("POST", url, {"product_id": inactive.pk}, token=token).status_code == 400
    assert api.call("POST", url, {"product_id": product.pk}, token=token).status_code == 409
    assert sent.first == []


def test_item_output_has_prices_change_and_last_check(api: Api, token: str, ann: Any) -> None:
    offer = make_page(
        price="100.00",
        title="Kettle",
        checked_at=datetime(2026, 5, 1, tzinfo=UTC),
        last_status="error",
        last_error="The shop answered 503.",
        consecutive_failures=2,
    )
    pricing.record_price(offer, price=Decimal("65.00"), currency="EUR", method="test")
    item = make_item(make_watchlist(ann), offer, target_price=Decimal("70"))

    body = api.call("GET", f"{V1}/watch-items/{item.pk}", token=token).json()

    assert body["title"] == "Kettle"
    assert (body["price"], body["currency"], body["availability"]) == ("65.00", "EUR", "unknown")
    assert (body["first_price"], body["lowest_price"], body["highest_price"]) == (
        "100.00",
        "65.00",
        "100.00",
    )
    assert body["change_since_first_percent"] == "-35.0"
    assert body["target_reached"] is True
    assert body["last_check"]["status"] == "error"
    assert body["last_check"]["error"] == "The shop answered 503."
    assert body["last_check"]["consecutive_failures"] == 2


def test_change_target_and_note_and_remove(api: Api, token: str, ann: Any) -> None:
    item = make_item(make_watchlist(ann), target_price=Decimal("5"))
    url = f"{V1}/watch-items/{item.pk}"

    assert (
        api.call("PATCH", url, {"note": "cheaper in May"}, token=token).json()["target_price"]
        == "5.00"
    )
    cleared = api.call("PATCH", url, {"target_price": None}, token=token).json()
    assert cleared["target_price"] is None and cleared["note"] == "cheaper in May"
    assert api.call("PATCH", url, {"target_price": "-0.01"}, token=token).status_code == 422
    assert (
        api.call("PATCH", url, {"target_price": "0"}, token=token).json()["target_price"] == "0.00"
    )

    assert api.call("DELETE", url, token=token).status_code == 204
    assert api.call("GET", url, token=token).status_code == 404
    assert Offer.objects.filter(pk=item.offer_id).exists()


def test_move_and_copy_between_own_lists(api: Api, token: str, ann: Any) -> None:
    source, target = make_watchlist(ann, "Source"), make_watchlist(ann, "Target")
    item = make_item(source, target_price=Decimal("9"), note="n")
    other = make_item(source)
    make_item(target, other.offer)
    strangers = make_watchlist(UserFactory(), "Not yours")

    copied = api.call(
        "POST", f"{V1}/watch-items/{item.pk}/copy", {"watchlist_id": target.pk}, token=token
    )
    assert copied.status_code == 201
    assert copied.json()["watchlist_id"] == target.pk
    assert copied.json()["target_price"] == "9.00" and copied.json()["note"] == "n"
    assert WatchItem.objects.filter(watchlist=source).count() == 2

    # the target already has it: a conflict, not a silent merge
    again = api.call(
        "POST", f"{V1}/watch-items/{item.pk}/move", {"watchlist_id": target.pk}, token=token
    )
    assert again.status_code == 409
    same = api.call(
        "POST", f"{V1}/watch-items/{item.pk}/move", {"watchlist_id": source.pk}, token=token
    )
    assert same.status_code == 409
    foreign = api.call(
        "POST", f"{V1}/watch-items/{item.pk}/move", {"watchlist_id": strangers.pk}, token=token
    )
    assert foreign.status_code == 404

    third = make_watchlist(ann, "Third")
    moved = api.call(
        "POST", f"{V1}/watch-items/{item.pk}/move", {"watchlist_id": third.pk}, token=token
    )
    assert moved.status_code == 200
    assert moved.json()["id"] == item.pk and moved.json()["watchlist_id"] == third.pk


def test_items_of_a_list_paginated_filtered_and_without_n_plus_one(
    api: Api, token: str, ann: Any
) -> None:
    watchlist = make_watchlist(ann)
    dropped = make_page(price="100.00", title="Dropped")
    pricing.record_price(dropped, price=Decimal("70.00"), currency="EUR", method="test")
    barely = make_page(price="100.00", title="Barely")
    pricing.record_price(barely, price=Decimal("71.00"), currency="EUR", method="test")
    make_item(watchlist, dropped)
    make_item(watchlist, barely)
    make_item(watchlist, make_product().offer)
    url = f"{V1}/watchlists/{watchlist.pk}/items"

    def count_queries(path: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.call("GET", path, token=token).status_code == 200
        return len(queries)

    few = count_queries(url)
    for _ in range(6):
        make_item(watchlist)
    assert count_queries(url) == few

    page = api.call("GET", f"{url}?page=2&page_size=4&ordering=title", token=token).json()
    assert (page["count"], page["page"], page["pages"], len(page["items"])) == (9, 2, 3, 4)

    drops = api.call("GET", f"{url}?min_drop=30", token=token).json()
    assert [row["title"] for row in drops["items"]] == ["Dropped"]
    everywhere = api.call("GET", f"{V1}/watch-items?min_drop=30", token=token).json()
    assert [row["title"] for row in everywhere["items"]] == ["Dropped"]
    by_change = api.call("GET", f"{V1}/watch-items?ordering=change", token=token).json()
    assert by_change["items"][0]["title"] == "Dropped"

    assert api.call("GET", f"{url}?ordering=nonsense", token=token).status_code == 422
    assert api.call("GET", f"{url}?page_size=101", token=token).status_code == 422
    assert api.call("GET", f"{url}?min_drop=0", token=token).status_code == 422


def test_page_past_the_end_is_empty(api: Api, token: str, ann: Any) -> None:
    watchlist = make_watchlist(ann)
    make_item(watchlist)
    body = api.call("GET", f"{V1}/watchlists/{watchlist.pk}/items?page=5", token=token).json()
    assert body["items"] == [] and body["count"] == 1


def test_default_list_created_lazily_is_not_needed_for_unknown_list(api: Api, token: str) -> None:
    response = api.call(
        "POST", f"{V1}/watchlists/999999/items", {"url": "https://s.example/"}, token=token
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_lists_due_soon_are_not_due_before_their_time(ann: Any) -> None:
    from pricewatch.tracking import services

    with time_machine.travel(datetime(2026, 5, 4, 6, 0, tzinfo=UTC), tick=False):
        watchlist = services.create_watchlist(owner=ann, name="Morning")
    assert watchlist.next_due_at == datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
    assert watchlist.next_due_at - datetime(2026, 5, 4, 6, 0, tzinfo=UTC) == timedelta(hours=1)
