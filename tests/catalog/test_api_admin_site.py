"""The Django admin for the catalog: products edited through the services, imports read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from pricewatch.catalog.models import ImportItem, ImportJob, Product, ProductNotice
from pricewatch.pricing.models import Offer
from tests.accounts.factories import UserFactory
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(UserFactory(is_staff=True, is_superuser=True, email="root@example.com"))
    return client


def test_the_product_list_searches_and_filters(admin_client: Client) -> None:
    make_product(sku="FIND-ME", title="Blue kettle")
    make_product(sku="OTHER", title="Lamp", active=False)

    found = admin_client.get("/admin/catalog/product/", {"q": "kettle"})
    inactive = admin_client.get("/admin/catalog/product/", {"active__exact": "0"})

    assert found.status_code == 200
    assert b"FIND-ME" in found.content and b"OTHER" not in found.content
    assert b"OTHER" in inactive.content and b"FIND-ME" not in inactive.content


def test_prices_are_read_only_and_an_edit_goes_through_the_service(admin_client: Client) -> None:
    product = make_product(sku="EDIT", title="Old title", price="12.50")
    url = f"/admin/catalog/product/{product.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="price"' not in page.content  # shown, not editable
    assert b"12.5" in page.content

    form: dict[str, Any] = {
        "title": "New title",
        "description": "",
        "active": "on",
        "brand": "",
        "category": "",
        "google_product_category": "",
        "gender": "",
        "condition": "",
        "age_group": "",
        "color": "",
        "size": "",
        "gtin": "",
        "mpn": "",
        "quantity": "",
        "link": "",
        "image_link": "",
        "extra": "{}",
    }
    response = admin_client.post(url, form)

    assert response.status_code == 302, response.content[:2000]
    product.refresh_from_db()
    assert product.title == "New title"
    assert Offer.objects.get(pk=product.offer_id).title == "New title"
    notice = ProductNotice.objects.get()
    assert notice.changes == {"title": ["Old title", "New title"]}
    assert notice.actor_email == "root@example.com"


def test_the_admin_form_applies_the_api_rules(admin_client: Client) -> None:
    product = make_product(sku="RULES")

    response = admin_client.post(
        f"/admin/catalog/product/{product.pk}/change/",
        {"title": "Fine", "gender": "boy", "link": "ftp://x.example/", "extra": "{}"},
    )

    assert response.status_code == 200  # the form again, with the errors
    assert b"male" in response.content and b"http" in response.content
    product.refresh_from_db()
    assert product.title != "Fine"


def test_deleting_in_the_admin_removes_the_offer_too(admin_client: Client) -> None:
    product = make_product()

    response = admin_client.post(f"/admin/catalog/product/{product.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Product.objects.exists() and not Offer.objects.exists()


def test_products_are_not_added_in_the_admin(admin_client: Client) -> None:
    assert admin_client.get("/admin/catalog/product/add/").status_code == 403


def test_imports_are_shown_read_only_with_a_link_to_their_report(admin_client: Client) -> None:
    job = ImportJob.objects.create(filename="feed.xml", path="/tmp/feed.xml")
    ImportItem.objects.create(job=job, line=7, sku="BAD", outcome="rejected", reason="no price")

    page = admin_client.get(f"/admin/catalog/importjob/{job.pk}/change/")
    report = admin_client.get("/admin/catalog/importitem/", {"job__id__exact": job.pk})

    assert page.status_code == 200
    assert b"feed.xml" in page.content
    assert f"job__id__exact={job.pk}".encode() in page.content
    assert b'name="_save"' not in page.content  # nothing to save: read-only
    assert b"no price" in report.content
    assert admin_client.get("/admin/catalog/importjob/add/").status_code == 403
