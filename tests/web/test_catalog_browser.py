"""Catalog browsing in a real browser: facets, search, sorting, pages, the product chart."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Availability
from pricewatch.tracking.models import WatchItem
from tests.accounts.factories import PASSWORD, UserFactory
from tests.catalog.factories import make_product
from tests.web.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_catalog() -> None:
    for number in range(26):
        make_product(
            title=f"Steel bottle {number:02d}",
            brand="Hydra",
            price=Decimal(10 + number),
            color="blue" if number % 2 else "green",
            image_link="",
        )
    for number, title in enumerate(("Espresso cup", "Latte mug", "Tea mug")):
        make_product(title=title, brand="Mugsy", price=Decimal(5 + number), color="white")


def results_count(page: Any) -> str:
    return str(page.locator("#results-heading").inner_text())


def test_browse_the_catalog_with_facets_search_sort_and_pages(page: Any, live_server: Any) -> None:
    fill_catalog()
    page.goto(f"{live_server.url}/catalog/")
    assert results_count(page) == "29 products"
    assert page.get_by_label("Hydra (26)").is_visible()
    shot(page, "catalog-list")

    # tick a brand: results and counts update in place, the URL follows
    page.get_by_label("Mugsy (3)").check()
    page.wait_for_function("document.querySelector('#results-heading').innerText === '3 products'")
    assert "brand=Mugsy" in page.url
    assert page.get_by_label("Hydra (26)").is_visible()  # disjunctive: the other brand stays
    assert page.get_by_label("white (3)").is_visible()  # colours counted under the brand
    assert page.get_by_label("Mugsy (3)").is_checked()

    # search within the brand
    page.get_by_label("Search").fill("latte")
    page.wait_for_function("document.querySelector('#results-heading').innerText === '1 product'")
    assert "q=latte" in page.url
    assert page.locator(".product-card h3").inner_text() == "Latte mug"

    # clear the filters, sort by price, and page on
    page.get_by_role("link", name="Clear all filters").click()
    page.wait_for_url(re.compile(r"/catalog/$"))
    page.get_by_label("Sort by").select_option("price")
    page.wait_for_url(re.compile(r"sort=price"))
    first_card = page.locator(".product-card h3").first
    page.wait_for_function(
        "document.querySelector('.product-card h3').innerText === 'Espresso cup'"
    )
    assert first_card.inner_text() == "Espresso cup"
    page.get_by_role("link", name="Next →").click()
    page.wait_for_function("document.querySelector('.pagination span').innerText === 'Page 2 of 2'")
    assert "page=2" in page.url and "sort=price" in page.url
    assert page.locator(".product-card").count() == 5
    shot(page, "catalog-page-2")

    # the back button restores the first page (pushed URLs)
    page.go_back()
    page.wait_for_function("document.querySelector('.pagination span').innerText === 'Page 1 of 2'")


def test_product_detail_chart_and_watching_it(page: Any, live_server: Any) -> None:
    product = make_product(
        title="Steel bottle", brand="Hydra", price=Decimal("30.00"), color="blue", size="750 ml"
    )
    for price in ("28.00", "26.50", "29.00", "24.00"):
        pricing.record_price(
            product.offer,
            price=Decimal(price),
            currency="EUR",
            method="test",
            availability=Availability.IN_STOCK,
        )
    user = UserFactory(email="grace@example.com")

    page.goto(f"{live_server.url}/catalog/{product.pk}/")
    page.wait_for_selector(".chart .uplot canvas")
    page.get_by_role("button", name="7 days").click()
    page.wait_for_selector("[data-range='7d'][aria-pressed='true']")
    page.wait_for_selector(".chart .uplot canvas")
    assert page.get_by_text("750 ml").is_visible()
    shot(page, "catalog-product-chart")

    # sign in from the product page and come back to it
    page.get_by_role("link", name="Log in to watch this product").click()
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(rf"/catalog/{product.pk}/$"))
    page.get_by_role("button", name="Watch this product").click()
    page.wait_for_selector("text=Added to your list")
    assert WatchItem.objects.filter(offer=product.offer, watchlist__owner=user).exists()

    page.goto(f"{live_server.url}/notifications/")
    assert page.get_by_role("heading", name="Rules").is_visible()
    shot(page, "alerts-page")
    page.goto(f"{live_server.url}/profile/")
    assert page.get_by_label("Time zone").is_visible()
    shot(page, "profile-page")
