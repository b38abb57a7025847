"""Visit duration from heartbeats and leave beacons; forged and replayed beacons change nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from pricewatch.analytics import services
from pricewatch.analytics.models import ProductDay, Visit
from tests.analytics.conftest import CHROME, browser, flush
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def open_page(client: Client) -> tuple[int, str]:
    product = make_product()
    response = client.get(f"/catalog/{product.pk}/")
    found = re.search(rb'data-visit="([0-9a-f]{32})"', response.content)
    assert found is not None
    return product.pk, found.group(1).decode()


def beacon(client: Client, key: str, kind: str = "end", **extra: Any) -> int:
    return client.post(f"/api/v1/visits/{key}/{kind}", **extra).status_code


def test_heartbeats_and_the_leave_beacon_measure_the_visit() -> None:
    client = browser()
    with time_machine.travel(START, tick=False) as clock:
        product_id, key = open_page(client)
        for _ in range(3):
            clock.shift(15)
            assert beacon(client, key, "heartbeat") == 204
        clock.shift(7)
        assert beacon(client, key, "end") == 204
        flush()

    visit = Visit.objects.get(key=key)
    assert (visit.duration_seconds, visit.bounced) == (52, False)
    day = ProductDay.objects.get(product_id=product_id)
    assert (day.duration_seconds, day.bounces, day.views) == (52, 0, 1)


def test_a_visit_left_quickly_stays_a_bounce() -> None:
    client = browser()
    with time_machine.travel(START, tick=False) as clock:
        product_id, key = open_page(client)
        clock.shift(4)
        beacon(client, key)
        flush()

    assert ProductDay.objects.get(product_id=product_id).bounces == 1
    assert Visit.objects.get(key=key).duration_seconds == 4


def test_the_client_cannot_claim_a_duration() -> None:
    client = browser()
    with time_machine.travel(START, tick=False) as clock:
        _, key = open_page(client)
        clock.shift(6)
        for body in ('{"duration": -500}', '{"duration": 99999999}'):
            beacon(client, key, data=body, content_type="application/json")
            clock.shift(6)
        flush()

    assert Visit.objects.get(key=key).duration_seconds == 12


def test_beacons_after_the_inactivity_timeout_are_ignored(settings: Any) -> None:
    client = browser()
    with time_machine.travel(START, tick=False) as clock:
        _, key = open_page(client)
        clock.shift(20)
        beacon(client, key, "heartbeat")
        flush()
        clock.shift(timedelta(minutes=settings.ANALYTICS_VISIT_TIMEOUT_MINUTES, seconds=1))
        status = beacon(client, key)
        flush()

    assert status == 404
    assert Visit.objects.get(key=key).duration_seconds == 20


def test_durations_are_capped(settings: Any) -> None:
    settings.ANALYTICS_MAX_VISIT_MINUTES = 1
    client = browser()
    with time_machine.travel(START, tick=False) as clock:
        product_id, key = open_page(client)
        for _ in range(10):
            clock.shift(20)
            beacon(client, key, "heartbeat")
        flush()

    assert Visit.objects.get(key=key).duration_seconds == 60
    assert ProductDay.objects.get(product_id=product_id).duration_seconds == 60


@pytest.mark.parametrize("key", ["0" * 32, "not-a-key", "A" * 32])
def test_unknown_or_malformed_visit_ids_are_404(key: str) -> None:
    response = browser().post(f"/api/v1/visits/{key}/end")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_another_visitors_visit_cannot_be_extended() -> None:
    owner = browser()
    with time_machine.travel(START, tick=False) as clock:
        _, key = open_page(owner)
        clock.shift(30)
        status = beacon(browser(CHROME), key)
        other_address = beacon(browser(address="198.51.100.9"), key)
        flush()

    assert (status, other_address) == (404, 404)
    assert Visit.objects.get(key=key).duration_seconds == 0


def test_cross_site_beacons_are_refused() -> None:
    client = browser()
    with time_machine.travel(START, tick=False) as clock:
        _, key = open_page(client)
        clock.shift(30)
        status = beacon(client, key, HTTP_SEC_FETCH_SITE="cross-site")
        flush()

    assert status == 403
    assert Visit.objects.get(key=key).duration_seconds == 0


def test_a_beacon_flood_is_throttled_and_counted_once() -> None:
    client = browser()
    with time_machine.travel(START, tick=False) as clock:
        product_id, key = open_page(client)
        clock.shift(8)
        statuses = [beacon(client, key, "heartbeat") for _ in range(20)]
        flush()

    assert statuses[0] == 204 and set(statuses[1:]) == {429}
    assert ProductDay.objects.get(product_id=product_id).duration_seconds == 8


def test_a_beacon_event_applied_twice_adds_its_duration_once() -> None:
    client = browser()
    with time_machine.travel(START, tick=False) as clock:
        product_id, key = open_page(client)
        flush()
        visitor = Visit.objects.get(key=key).visitor
        event = {
            "t": "beat",
            "key": key,
            "visitor": visitor,
            "at": (START + timedelta(seconds=30)).timestamp(),
        }
        clock.shift(30)
        services.apply_beacons([event])
        services.apply_beacons([event, event])

    assert ProductDay.objects.get(product_id=product_id).duration_seconds == 30
    assert Visit.objects.get(key=key).duration_seconds == 30
