"""The new user's whole journey in a real browser: sign up to the first price alert."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.core import mail

from pricewatch.tracking import demo_shop
from tests.web.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "ada@example.com"
PASSWORD = "a long enough pass phrase"


@pytest.fixture
def shop() -> Iterator[tuple[demo_shop.DemoShop, str]]:
    app = demo_shop.DemoShop(demo_shop.Catalog(products=6, seed=11))
    with demo_shop.running(app) as base:
        yield app, base


def _sign_up_and_log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/")
    page.get_by_role("link", name="Create an account").click()
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=first_name]", "Ada")
    page.fill("input[name=password1]", PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    link = re.search(r"(https?://\S+/accounts/confirm-email/\S+/)", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body
    page.goto(link.group(1))
    page.get_by_role("button", name="Confirm").click()
    page.goto(f"{base}/accounts/login/")
    if page.locator("input[name=login]").count():
        page.fill("input[name=login]", EMAIL)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign In").click()


def test_a_new_user_tracks_a_demo_shop_product_and_gets_a_price_alert(
    page: Any, live_server: Any, shop: tuple[demo_shop.DemoShop, str]
) -> None:
    base = live_server.url
    app, shop_base = shop
    product = next(p for p in app.catalog.all() if p.style == "json-ld")
    price = f"€{product.price:,.2f}"

    # Sign up, verify, log in: the dashboard greets a new user with the first step.
    _sign_up_and_log_in(page, base)
    page.goto(f"{base}/")
    assert page.get_by_text("Signed in as").is_visible()
    page.get_by_label("Name of your first list").fill("Presents")
    page.get_by_role("button", name="Create your first list").click()
    page.wait_for_url(re.compile(r"/watchlists/\d+/$"))
    assert page.get_by_role("heading", name="Presents").is_visible()

    # Add a demo-shop URL: the new row appears and shows the price once the first check ran.
    page.get_by_label("Product page URL").fill(f"{shop_base}/products/{product.slug}")
    page.get_by_role("button", name="Add").click()
    row = page.locator("#items-body tr").first
    row.get_by_text(price).wait_for()
    assert product.name in row.inner_text()
    shot(page, "journey-list")

    # The item page: price, first / lowest / highest and the chart.
    row.get_by_role("link", name=product.name).click()
    page.wait_for_url(re.compile(r"/watchlists/items/\d+/$"))
    page.locator("[data-price-chart] canvas").first.wait_for()
    assert page.locator("#current-price").inner_text() == price

    # Set an alert below today's price; the default 30 % rule is listed too.
    target = (product.price * Decimal("0.8")).quantize(Decimal("0.01"))
    page.get_by_label("Alert me when").select_option("target_price")
    page.get_by_label(re.compile(r"^Target price")).first.fill(str(target))
    page.get_by_role("button", name="Add alert").click()
    page.get_by_text(f"At or below €{target:,.2f}").wait_for()
    assert page.get_by_text("30 % or more below the first price").is_visible()
    shot(page, "journey-item")

    # The shop drops its price by 35 %; "check now" reads it and the alert goes out.
    answer = httpx.post(
        f"{shop_base}/api/products/{product.slug}/price", json={"drop_percent": 35}, timeout=5
    )
    assert answer.status_code == 200
    new_price = Decimal(answer.json()["price"])
    mail.outbox.clear()
    page.get_by_role("button", name="Check now").click()
    page.get_by_text("Checking 1 page now.").wait_for()
    assert page.locator("#current-price").inner_text() == f"€{new_price:,.2f}"
    assert "35.0 %" in page.locator(".current .change.down").inner_text()

    alerts = [message for message in mail.outbox if EMAIL in message.to]
    assert alerts, [message.subject for message in mail.outbox]
    assert any(product.name in message.subject + message.body for message in alerts)

    # The dashboard shows the drop.
    page.goto(f"{base}/")
    drops = page.locator("section[aria-labelledby=drops]")
    assert product.name in drops.inner_text()
    assert "35.0 %" in drops.inner_text()
    shot(page, "journey-dashboard")

    # The notification history (another page) lists it once that page exists.
    if page.goto(f"{base}/notifications/").status == 200:
        assert product.name in page.content()
