"""Registration and polling against `pricewatch offers-sim` as a real HTTP server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from pricewatch.offers import client as offers_client
from pricewatch.offers import services
from pricewatch.offers.models import Registration, ServiceOffer
from pricewatch.offers.selectors import product_offers as client_offers
from pricewatch.offers.sim import SimOffer, SimServer, SimState
from pricewatch.pricing.models import PricePoint
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim(settings: Any) -> Iterator[SimServer]:
    server = SimServer(SimState(refresh_token="secret", tick_seconds=10_000))
    server.start()
    settings.OFFERS_BASE_URL = server.base_url
    settings.OFFERS_REFRESH_TOKEN = "secret"
    settings.OFFERS_CURRENCY = "EUR"
    try:
        yield server
    finally:
        server.stop()


def _registered(sim: SimServer) -> Registration:
    make_product(title="Kettle", description="Steel")
    services.dispatch_due()
    registration = Registration.objects.get()
    assert registration.status == Registration.Status.REGISTERED
    return registration


def test_a_new_product_is_registered_and_its_offers_recorded(sim: SimServer) -> None:
    product = make_product(title="Kettle", description="Steel")

    result = services.dispatch_due()

    registration = Registration.objects.get(product=product)
    assert result["registered"] == 1 and result["polled"] == 1
    assert str(registration.uuid) in sim.state.products
    served = {uuid.UUID(offer.id): offer for offer in sim.state.products[str(registration.uuid)]}
    rows = list(ServiceOffer.objects.filter(registration=registration).select_related("offer"))
    assert {row.external_id for row in rows} == set(served)
    for row in rows:
        assert row.offer.kind == "service"
        assert row.offer.price == Decimal(served[row.external_id].price)
        assert row.items_in_stock == served[row.external_id].items_in_stock


def test_registration_409_counts_as_registered(sim: SimServer) -> None:
    registration = _registered(sim)

    services.requeue()
    services.register_due()

    registration.refresh_from_db()
    assert registration.status == Registration.Status.REGISTERED


def test_service_down_leaves_registration_failed_then_catches_up(settings: Any) -> None:
    settings.OFFERS_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    make_product()

    services.dispatch_due()

    registration = Registration.objects.get()
    assert registration.status == Registration.Status.FAILED
    assert "unreachable" in registration.last_error
    assert registration.next_attempt_at is not None


def _poll_again() -> dict[str, int]:
    Registration.objects.update(next_poll_at=Registration.objects.get().created_at)
    return services.poll_due()


def test_price_change_recorded_once_and_vanished_offer_marked_gone(sim: SimServer) -> None:
    registration = _registered(sim)
    staying, leaving = SimOffer(str(uuid.uuid4()), 1000, 5), SimOffer(str(uuid.uuid4()), 900, 2)
    sim.state.products[str(registration.uuid)] = [staying, leaving]
    _poll_again()
    points = PricePoint.objects.count()

    services.poll_due()  # not due yet: nothing happens
    assert PricePoint.objects.count() == points

    staying.price = 1007
    newcomer = SimOffer(str(uuid.uuid4()), 950, 3)
    sim.state.products[str(registration.uuid)] = [staying, newcomer]
    _poll_again()

    gone = ServiceOffer.objects.get(external_id=leaving.id)
    assert gone.gone_at is not None and gone.items_in_stock == 0
    assert gone.offer.availability == "out_of_stock"
    assert gone.offer.price == 900  # kept with its history
    assert ServiceOffer.objects.get(external_id=staying.id).offer.price == 1007
    assert ServiceOffer.objects.get(external_id=newcomer.id).offer.price == 950
    assert PricePoint.objects.count() == points + 3  # change, gone, new offer's first point
    live = client_offers(registration.product_id)
    assert sorted(item.offer.price for item in live) == [950, 1007]

    _poll_again()  # same answer again: no new points
    assert PricePoint.objects.count() == points + 3


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("500", "HTTP 500"),
        ("429", "HTTP 429"),
        ("json", "not valid JSON"),
        ("object", "not a list"),
        ("negative", "invalid price"),
        ("float", "invalid price"),
        ("duplicate", "appears twice"),
        ("huge", "larger than"),
    ],
)
def test_bad_answers_end_as_poll_error_and_others_go_on(
    sim: SimServer, fault: str, message: str
) -> None:
    make_product(title="Bad")
    make_product(title="Good")
    services.queue_missing_registrations()
    services.register_due()
    bad, good = Registration.objects.order_by("pk")
    sim.state.faults[str(bad.uuid)] = fault
    before = ServiceOffer.objects.filter(registration=bad).count()

    services.poll_due()

    bad.refresh_from_db()
    good.refresh_from_db()
    assert message in bad.poll_error
    assert ServiceOffer.objects.filter(registration=bad).count() == before == 0
    assert good.poll_error == ""
    assert ServiceOffer.objects.filter(registration=good).exists()


def test_401_mid_run_reauthenticates_once(sim: SimServer) -> None:
    registration = _registered(sim)
    sim.state.expire_tokens()  # our cached token is now refused

    Registration.objects.update(next_poll_at=registration.created_at)
    result = services.poll_due()

    assert result == {"polled": 1, "failed": 0}


def test_wrong_refresh_token_is_a_clear_error(sim: SimServer, settings: Any) -> None:
    settings.OFFERS_REFRESH_TOKEN = "wrong"
    cache.delete(offers_client.TOKEN_KEY)
    make_product()

    services.dispatch_due()

    registration = Registration.objects.get()
    assert registration.status == Registration.Status.FAILED
    assert "Authentication failed with HTTP 401" in registration.last_error


def test_feature_off_without_base_url(settings: Any) -> None:
    settings.OFFERS_BASE_URL = ""
    make_product()

    assert services.dispatch_due() == {"enabled": False}
    assert not Registration.objects.exists()


def test_cli_register_all(sim: SimServer, capsys: pytest.CaptureFixture[str]) -> None:
    make_product()

    call_command("offers", "register", "--all")

    assert "registered 1" in capsys.readouterr().out
    assert Registration.objects.get().status == Registration.Status.REGISTERED


def test_api_lists_offers_and_trend(sim: SimServer, client: Client) -> None:
    registration = _registered(sim)
    served = sim.state.products[str(registration.uuid)]

    offers = client.get(f"/api/v1/products/{registration.product_id}/offers").json()
    trend = client.get(f"/api/v1/products/{registration.product_id}/trend").json()

    assert sorted(Decimal(item["price"]) for item in offers) == sorted(
        Decimal(offer.price) for offer in served
    )
    lowest = min(offer.price for offer in served)
    assert Decimal(trend["first"]) == Decimal(trend["last"]) == lowest
    assert Decimal(trend["change_percent"]) == 0
    assert len(trend["series"]) == 1
