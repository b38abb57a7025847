"""Products through the API: admins write, everyone reads; every field is validated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pricewatch.catalog.models import Product, ProductNotice
from pricewatch.pricing.models import Offer, PriceChange, PricePoint
from tests.accounts.conftest import Api
from tests.catalog import factories
from tests.catalog.factories import make_product, product_body

pytestmark = pytest.mark.django_db

api = factories.api
admin_token = factories.admin_token
user_token = factories.user_token

URL = "/api/v1/products"


# --- create ----------------------------------------------------------------------------------


def test_an_admin_creates_a_product_with_its_first_price(api: Api, admin_token: str) -> None:
    response = api.call("POST", URL, product_body(sku="B-1", sale_price="15"), token=admin_token)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sku"] == "B-1"
    assert body["price"] == "19.99" and body["sale_price"] == "15.00"
    assert body["current_price"] == "15.00" and body["currency"] == "EUR"
    assert body["first_price"] == body["lowest_price"] == body["highest_price"] == "15.00"
    assert body["first_observed_at"] is not None
    product = Product.objects.get(sku="B-1")
    assert product.offer.kind == Offer.Kind.CATALOG
    assert product.offer.title == "Water bottle 750 ml"
    assert product.content_hash == ""
    assert PricePoint.objects.filter(offer=product.offer, method="api").count() == 1
    notice = ProductNotice.objects.get()
    assert (notice.action, notice.sku, notice.actor_email) == (
        "created",
        "B-1",
        "admin@example.com",
    )


def test_creating_needs_an_admin(api: Api, user_token: str) -> None:
    anonymous = api.call("POST", URL, product_body())
    member = api.call("POST", URL, product_body(), token=user_token)

    assert anonymous.status_code == 401
    assert member.status_code == 403
    assert member.json()["code"] == "permission_denied"
    assert not Product.objects.exists() and not Offer.objects.exists()


def test_a_taken_sku_is_a_conflict_that_says_so(api: Api, admin_token: str) -> None:
    make_product(sku="DUP-1")

    response = api.call("POST", URL, product_body(sku="DUP-1"), token=admin_token)

    assert response.status_code == 409
    assert response.json()["code"] == "sku_taken"
    assert "DUP-1" in response.json()["detail"]
    assert Offer.objects.count() == 1  # nothing half-written


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "-1", "greater than or equal to 0"),
        ("price", "abc", "decimal"),
        ("price", "NaN", ""),
        ("price", "Infinity", ""),
        ("price", "1.23456", "decimal places"),
        ("price", "1" * 20, "digits"),
        ("sale_price", "-0.01", "greater than or equal to 0"),
        ("currency", "XYZ", "ISO 4217"),
        ("currency", "XAU", "ISO 4217"),  # gold is not money a shop charges in
        ("currency", "", "ISO 4217"),
        ("title", "x" * 151, "at most 150"),
        ("title", "x" * 10_000, "at most 150"),
        ("title", "   ", "at least 1"),
        ("title", "two\nlines", "single line"),
        ("sku", "", "at least 1"),
        ("sku", "s" * 101, "at most 100"),
        ("link", "ftp://shop.example/p/1", "http"),
        ("link", "javascript:alert(1)", "http"),
        ("link", "not a url", "http"),
        ("image_link", "file:///etc/passwd", "http"),
        ("link", "https://shop.example/" + "a" * 2000, "at most 2000"),
        ("gender", "boy", "male"),
        ("condition", "broken", "new"),
        ("age_group", "teen", "adult"),
        ("availability", "maybe", "in_stock"),
        ("gtin", "12345", "GTIN"),
        ("gtin", "4006381333932", "check digit"),
        ("quantity", -1, "greater than or equal to 0"),
        ("description", "d" * 5001, "at most 5000"),
        ("brand", "b" * 71, "at most 70"),
        ("extra", {"k": "v" * 70_000}, "bytes"),
        ("active", "perhaps", "bool"),
        ("nickname", "x", "Unknown field"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(
    api: Api, admin_token: str, field: str, value: Any, message: str
) -> None:
    response = api.call("POST", URL, product_body(**{field: value}), token=admin_token)

    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"]
    assert message.lower() in body["fields"][field].lower()
    assert not Product.objects.exists()


def test_sale_price_above_price_is_refused(api: Api, admin_token: str) -> None:
    response = api.call("POST", URL, product_body(price="10", sale_price="12"), token=admin_token)

    assert response.status_code == 422
    assert "sale_price" in response.json()["fields"]


def test_missing_required_fields_are_named(api: Api, admin_token: str) -> None:
    response = api.call("POST", URL, {"sku": "X"}, token=admin_token)

    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"title", "price", "currency"}


def test_a_body_that_is_not_json_is_a_clear_400(api: Api, admin_token: str) -> None:
    response = api.call("POST", URL, raw=b"\x00\xff garbage", token=admin_token)

    assert response.status_code == 400
    assert response.json()["detail"] == "The request body is not valid JSON."


def test_values_are_normalised(api: Api, admin_token: str) -> None:
    body = product_body(
        sku="  N-1 ", currency="usd", gtin="400-6381-333931, 0012345678905", title=" Mug "
    )

    response = api.call("POST", URL, body, token=admin_token)

    assert response.status_code == 201, response.content
    product = Product.objects.get()
    assert (product.sku, product.offer.currency, product.title) == ("N-1", "USD", "Mug")
    assert product.gtin == "4006381333931,0012345678905"


# --- read --------------------------------------------------------------------------------------


def test_detail_shows_current_first_lowest_and_highest_price(api: Api, admin_token: str) -> None:
    product = make_product(price="100")
    for price in ("80", "120"):
        api.call("PATCH", f"{URL}/{product.pk}", {"price": price}, token=admin_token)

    body = api.call("GET", f"{URL}/{product.pk}").json()

    assert body["current_price"] == "120.00"
    assert (body["first_price"], body["lowest_price"], body["highest_price"]) == (
        "100.00",
        "80.00",
        "120.00",
    )
    assert body["availability"] == "in_stock"
    assert body["offer_id"] == product.offer_id


def test_detail_by_sku(api: Api) -> None:
    product = make_product(sku="ab/c 1")

    response = api.call("GET", f"{URL}/sku/ab/c%201")

    assert response.status_code == 200
    assert response.json()["id"] == product.pk


def test_unknown_products_are_404(api: Api) -> None:
    assert api.call("GET", f"{URL}/999999").status_code == 404
    assert api.call("GET", f"{URL}/sku/nope").json()["code"] == "not_found"


def test_inactive_products_are_hidden_from_the_public_but_not_from_admins(
    api: Api, admin_token: str, user_token: str
) -> None:
    product = make_product(active=False)

    assert api.call("GET", f"{URL}/{product.pk}").status_code == 404
    assert api.call("GET", f"{URL}/{product.pk}", token=user_token).status_code == 404
    assert api.call("GET", f"{URL}/{product.pk}", token=admin_token).status_code == 200


def test_a_bad_token_on_a_public_read_is_refused_not_ignored(api: Api) -> None:
    product = make_product()

    response = api.call("GET", f"{URL}/{product.pk}", token="not-a-token")

    assert response.status_code == 401
    assert "malformed" in response.json()["detail"]


# --- replace and change ------------------------------------------------------------------------


def test_patch_of_the_price_records_a_new_observation(api: Api, admin_token: str) -> None:
    product = make_product(price="50")
    product.content_hash = "from-the-feed"
    product.save(update_fields=["content_hash"])

    response = api.call("PATCH", f"{URL}/{product.pk}", {"price": "40"}, token=admin_token)

    assert response.status_code == 200, response.content
    assert response.json()["current_price"] == "40.00"
    product.refresh_from_db()
    assert product.offer.price == Decimal("40") and product.content_hash == ""
    assert PricePoint.objects.filter(offer=product.offer).count() == 2
    change = PriceChange.objects.get(offer=product.offer)
    assert (change.old_price, change.new_price) == (Decimal("50"), Decimal("40"))
    notice = ProductNotice.objects.get()
    assert notice.action == "updated"
    assert notice.changes == {"price": ["50.00", "40.00"]}


def test_patch_of_availability_and_sale_price_goes_through_the_price_door(
    api: Api, admin_token: str
) -> None:
    product = make_product(price="50")

    api.call(
        "PATCH",
        f"{URL}/{product.pk}",
        {"sale_price": "45", "availability": "out_of_stock"},
        token=admin_token,
    )

    product.offer.refresh_from_db()
    assert product.offer.price == Decimal("45")
    assert product.offer.regular_price == Decimal("50")
    assert product.offer.availability == "out_of_stock"


def test_a_products_price_is_stored_once_on_its_offer() -> None:
    stored = {field.name for field in Product._meta.get_fields()}

    assert not stored & {"price", "sale_price", "currency", "availability"}


def test_patch_of_the_price_moves_only_the_offer_through_the_price_door(
    api: Api, admin_token: str
) -> None:
    product = make_product(price="50", sale_price="45", availability="preorder")
    columns = Product.objects.filter(pk=product.pk).values().get()

    response = api.call("PATCH", f"{URL}/{product.pk}", {"price": "60"}, token=admin_token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["price"], body["sale_price"], body["current_price"]) == ("60.00", "45.00", "45.00")
    assert (body["currency"], body["availability"]) == ("EUR", "preorder")
    point = PricePoint.objects.filter(offer=product.offer).latest("observed_at")
    assert (point.price, point.regular_price, point.method) == (
        Decimal("45"),
        Decimal("60"),
        "api",
    )
    offer = Offer.objects.get(pk=product.offer_id)
    assert (offer.price, offer.regular_price, offer.availability) == (
        Decimal("45"),
        Decimal("60"),
        "preorder",
    )
    after = Product.objects.filter(pk=product.pk).values().get()
    moved = {name for name in columns if columns[name] != after[name]}
    assert moved == {"updated_at"}  # content_hash was already empty (made by the API)


def test_a_sale_price_equal_to_the_price_is_no_sale(api: Api, admin_token: str) -> None:
    response = api.call("POST", URL, product_body(price="20", sale_price="20"), token=admin_token)

    body = response.json()
    assert (body["price"], body["sale_price"], body["current_price"]) == ("20.00", None, "20.00")
    assert Offer.objects.get().regular_price is None


def test_an_unknown_availability_is_shown_empty(api: Api, admin_token: str) -> None:
    response = api.call("POST", URL, product_body(availability=""), token=admin_token)

    assert response.json()["availability"] == ""
    assert Offer.objects.get().availability == "unknown"


def test_a_product_whose_offer_has_no_price_yet_shows_null_prices(api: Api) -> None:
    product = make_product()
    Offer.objects.filter(pk=product.offer_id).update(price=None, regular_price=None, currency="")

    detail = api.call("GET", f"{URL}/{product.pk}").json()
    listed = api.call("GET", URL).json()["items"][0]

    for body in (detail, listed):
        assert (body["price"], body["sale_price"], body["current_price"]) == (None, None, None)
        assert body["currency"] == ""


def test_patch_of_other_fields_records_no_price(api: Api, admin_token: str) -> None:
    product = make_product(title="Old")

    response = api.call(
        "PATCH", f"{URL}/{product.pk}", {"title": "New", "brand": "Acme"}, token=admin_token
    )

    assert response.status_code == 200
    assert PricePoint.objects.filter(offer=product.offer).count() == 1
    product.offer.refresh_from_db()
    assert product.offer.title == "New"  # the offer's description keeps in step


def test_patch_that_changes_nothing_leaves_no_notice(api: Api, admin_token: str) -> None:
    product = make_product(title="Same")

    api.call("PATCH", f"{URL}/{product.pk}", {"title": "Same"}, token=admin_token)

    assert not ProductNotice.objects.exists()


def test_patch_refuses_null_for_required_fields_and_a_sale_above_the_new_price(
    api: Api, admin_token: str
) -> None:
    product = make_product(price="50", sale_price="40")

    nulled = api.call("PATCH", f"{URL}/{product.pk}", {"title": None}, token=admin_token)
    cheaper = api.call("PATCH", f"{URL}/{product.pk}", {"price": "30"}, token=admin_token)

    assert nulled.status_code == 422 and "title" in nulled.json()["detail"]
    assert cheaper.status_code == 422 and "sale_price" in cheaper.json()["fields"]
    product.offer.refresh_from_db()
    assert (product.offer.regular_price, product.offer.price) == (Decimal("50"), Decimal("40"))


def test_patch_to_a_taken_sku_is_a_conflict(api: Api, admin_token: str) -> None:
    make_product(sku="TAKEN")
    product = make_product(sku="MINE")

    response = api.call("PATCH", f"{URL}/{product.pk}", {"sku": "TAKEN"}, token=admin_token)

    assert response.status_code == 409
    product.refresh_from_db()
    assert product.sku == "MINE"


def test_put_replaces_the_whole_product(api: Api, admin_token: str) -> None:
    product = make_product(brand="Acme", color="red", sale_price="15")

    response = api.call(
        "PUT",
        f"{URL}/{product.pk}",
        {"sku": product.sku, "title": "Replaced", "price": "25", "currency": "EUR"},
        token=admin_token,
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["brand"], body["color"], body["sale_price"]) == (
        "Replaced",
        "",
        "",
        None,
    )
    assert body["current_price"] == "25.00"


def test_put_needs_every_required_field(api: Api, admin_token: str) -> None:
    product = make_product()

    response = api.call("PUT", f"{URL}/{product.pk}", {"title": "Only"}, token=admin_token)

    assert response.status_code == 422
    assert {"sku", "price", "currency"} <= set(response.json()["fields"])


def test_changing_needs_an_admin(api: Api, user_token: str) -> None:
    product = make_product()

    assert api.call("PATCH", f"{URL}/{product.pk}", {"title": "x"}).status_code == 401
    assert (
        api.call("PATCH", f"{URL}/{product.pk}", {"title": "x"}, token=user_token).status_code
        == 403
    )
    assert api.call("DELETE", f"{URL}/{product.pk}", token=user_token).status_code == 403


def test_changing_an_unknown_product_is_404(api: Api, admin_token: str) -> None:
    response = api.call("PATCH", f"{URL}/424242", {"title": "x"}, token=admin_token)

    assert response.status_code == 404


# --- delete ------------------------------------------------------------------------------------


def test_delete_removes_the_product_its_offer_and_its_history(api: Api, admin_token: str) -> None:
    product = make_product(sku="GONE")
    api.call("PATCH", f"{URL}/{product.pk}", {"price": "5"}, token=admin_token)

    response = api.call("DELETE", f"{URL}/{product.pk}", token=admin_token)

    assert response.status_code == 204
    assert not Product.objects.exists()
    assert not Offer.objects.exists() and not PricePoint.objects.exists()
    deleted = ProductNotice.objects.get(action="deleted")
    assert (deleted.sku, deleted.product_id) == ("GONE", None)
    assert api.call("DELETE", f"{URL}/{product.pk}", token=admin_token).status_code == 404


def test_the_product_endpoints_are_in_the_openapi_document(api: Api) -> None:
    paths = api.call("GET", "/api/openapi.json").json()["paths"]

    for path in (URL, f"{URL}/facets", f"{URL}/{{product_id}}", f"{URL}/sku/{{sku}}"):
        assert path in paths, sorted(paths)
    assert set(paths[URL]) == {"get", "post"}
