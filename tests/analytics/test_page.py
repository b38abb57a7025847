"""The admin analytics page: two browsers' visits show as views and visitors, admins only."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.factories import UserFactory
from tests.analytics.conftest import CHROME, FIREFOX, browser, flush
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


def admin() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def test_two_browsers_one_with_dnt_show_as_one_visitor_on_the_admin_page() -> None:
    product = make_product(title="Steel bottle")
    browser(FIREFOX).get(f"/catalog/{product.pk}/")
    browser(CHROME, DNT="1").get(f"/catalog/{product.pk}/")
    flush()

    response = admin().get(f"/analytics/?product={product.pk}")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<dd data-views>1</dd>" in html and "<dd data-visitors>1</dd>" in html
    assert "Steel bottle" in html and "data-price-chart" in html and "product-series" in html


def test_a_reversed_range_is_a_400_with_the_reason() -> None:
    response = admin().get("/analytics/?from=2026-03-10&to=2026-03-01")

    assert response.status_code == 400
    assert "must not be after" in response.content.decode()


def test_the_page_is_for_admins_only() -> None:
    member = Client()
    member.force_login(UserFactory())

    assert Client().get("/analytics/").status_code == 302
    assert member.get("/analytics/").status_code == 403
