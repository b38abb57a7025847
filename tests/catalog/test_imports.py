"""The feed importer: upsert by sku, report, duplicates, bad input, all-or-nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pricewatch.catalog import imports, prices
from pricewatch.catalog.models import ImportItem, ImportJob, Product
from pricewatch.pricing.models import Offer, PriceChange, PricePoint
from tests.catalog.factories import catalog_state
from tests.catalog.hostile import BILLION_LAUGHS, DECLARATION, QUADRATIC_BLOWUP, passwd_line, xxe

G = "http://base.google.com/ns/1.0"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _import_dir(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


def rss(*items: str, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>\n') -> bytes:
    body = "\n".join(f"<item>{item}</item>" for item in items)
    return (
        f'{prolog}<rss version="2.0" xmlns:g="{G}"><channel><title>Shop</title>\n'
        f"{body}\n</channel></rss>\n"
    ).encode()


def item(sku: str = "SKU-1", title: str = "Blue mug", price: str = "15.00 USD", **more: str) -> str:
    parts = {"id": sku, "title": title, "price": price, **more}
    return "".join(f"<g:{k}>{v}</g:{k}>" for k, v in parts.items() if v is not None)


def run(
    tmp_path: Path, content: bytes, *, dry_run: bool = False, name: str = "feed.xml"
) -> ImportJob:
    path = tmp_path / name
    path.write_bytes(content)
    job = imports.start_import(path=path, dry_run=dry_run)
    return imports.run_import(job.pk)


def outcomes(job: ImportJob) -> list[tuple[int, str, str, str]]:
    return list(job.items.order_by("line").values_list("line", "sku", "outcome", "reason"))


# --------------------------------------------------------------------------------------------
# Upserts
# --------------------------------------------------------------------------------------------


def test_new_items_become_products_with_an_offer_and_a_first_price_point(
    tmp_path: Path,
) -> None:
    # given a feed with two products, one on sale
    feed = rss(
        item(
            sku="MUG",
            price="15.00 USD",
            sale_price="12.50 USD",
            availability="in stock",
            brand="Acme",
            link="https://shop.example/mug",
            image_link="https://cdn.example/mug.jpg",
            product_type="Home &gt; Mugs",
            material="Stoneware",
            shipping="<g:country>US</g:country><g:price>4.95 USD</g:price>",
        ),
        item(sku="CUP", price="9 EUR", availability="out of stock"),
    )

    # when imported
    job = run(tmp_path, feed)

    # then the job succeeded with two created items
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.created_count, job.updated_count, job.unchanged_count) == (2, 0, 0), outcomes(job)
    assert (job.processed, job.total) == (2, 2)
    assert [o[2] for o in outcomes(job)] == ["created", "created"]
    # and the products carry the feed's fields, extra attributes included
    mug = Product.objects.select_related("offer").get(sku="MUG")
    assert prices.listing_of(mug.offer) == (Decimal("15"), Decimal("12.5"), "USD", "in_stock")
    assert (mug.brand, mug.category) == ("Acme", "Home > Mugs")
    assert mug.link == "https://shop.example/mug"
    assert mug.extra["material"] == "Stoneware"
    assert mug.extra["shipping"] == [{"country": "US", "price": "4.95", "currency": "USD"}]
    assert len(mug.content_hash) == 32
    assert mug.active
    # and the offer's price is what a buyer pays, with its history starting now
    assert mug.offer.kind == Offer.Kind.CATALOG
    assert (mug.offer.price, mug.offer.regular_price) == (Decimal("12.5"), Decimal("15"))
    assert mug.offer.availability == "in_stock"
    assert mug.offer.first_price == Decimal("12.5")
    assert PricePoint.objects.filter(offer=mug.offer, method="feed").count() == 1
    cup = Product.objects.select_related("offer").get(sku="CUP")
    assert cup.offer.availability == "out_of_stock"


def test_importing_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    # given an imported feed
    feed = rss(item(sku="A"), item(sku="B", price="20 USD"))
    run(tmp_path, feed, name="first.xml")
    before = catalog_state()
    stamps = dict(Product.objects.values_list("sku", "updated_at"))

    # when the same file is imported again
    job = run(tmp_path, feed, name="second.xml")

    # then every item is unchanged and nothing was written
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 2)
    assert catalog_state() == before
    assert dict(Product.objects.values_list("sku", "updated_at")) == stamps


def test_a_changed_price_is_recorded_through_the_price_history(tmp_path: Path) -> None:
    # given an imported product
    run(tmp_path, rss(item(sku="A", price="20 USD"), item(sku="B")), name="1.xml")

    # when the feed comes back with a lower price for A and a new description for B
    job = run(
        tmp_path,
        rss(item(sku="A", price="15 USD"), item(sku="B", description="Now with a handle")),
        name="2.xml",
    )

    # then both are updated, and only A's price moved
    assert (job.updated_count, job.unchanged_count) == (2, 0)
    a = Product.objects.select_related("offer").get(sku="A")
    assert a.offer.price == Decimal("15")
    assert (a.offer.first_price, a.offer.highest_price) == (Decimal("20"), Decimal("20"))
    assert PricePoint.objects.filter(offer=a.offer).count() == 2
    change = PriceChange.objects.get(offer=a.offer)
    assert (change.old_price, change.new_price) == (Decimal("20"), Decimal("15"))
    b = Product.objects.get(sku="B")
    assert b.description == "Now with a handle"
    assert PricePoint.objects.filter(offer=b.offer).count() == 1


def test_a_fractional_price_that_did_not_move_records_no_new_point(tmp_path: Path) -> None:
    # given a product whose price has cents (stored as a float by SQLite)
    run(tmp_path, rss(item(sku="A", price="19.99 USD", sale_price="17.49 USD")), name="1.xml")

    # when only its description changes
    job = run(
        tmp_path,
        rss(item(sku="A", price="19.99 USD", sale_price="17.49 USD", description="New")),
        name="2.xml",
    )

    # then it is updated without a price observation
    assert (job.updated_count, job.unchanged_count) == (1, 0)
    product = Product.objects.get(sku="A")
    assert product.description == "New"
    assert PricePoint.objects.filter(offer=product.offer).count() == 1


def test_an_item_not_opening_with_its_id_is_still_recognised_as_unchanged(
    tmp_path: Path,
) -> None:
    feed = rss("<g:title>Mug</g:title><g:price>5 USD</g:price><g:id>LATE</g:id>", item("B"))
    run(tmp_path, feed, name="1.xml")
    job = run(tmp_path, feed, name="2.xml")
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 2)


def test_availability_change_alone_is_a_price_observation(tmp_path: Path) -> None:
    run(tmp_path, rss(item(sku="A", availability="in_stock")), name="1.xml")
    run(tmp_path, rss(item(sku="A", availability="out_of_stock")), name="2.xml")
    offer = Product.objects.get(sku="A").offer
    assert offer.availability == "out_of_stock"
    assert PriceChange.objects.get(offer=offer).new_availability == "out_of_stock"


def test_duplicate_skus_last_one_wins_and_the_report_says_so(tmp_path: Path) -> None:
    # given the same sku three times, the second copy invalid
    feed = rss(
        item(sku="DUP", price="10 USD"),
        item(sku="OTHER"),
        item(sku="DUP", price="oops"),
        item(sku="DUP", price="12 USD"),
    )

    # when imported
    job = run(tmp_path, feed)

    # then the last valid copy is the product, with one price point
    product = Product.objects.get(sku="DUP")
    assert product.offer.price == Decimal("12")
    assert PricePoint.objects.filter(offer=product.offer).count() == 1
    # and the report explains each line
    assert outcomes(job) == [
        (3, "DUP", "duplicate", "superseded by the item on line 6 with the same sku"),
        (4, "OTHER", "created", ""),
        (5, "DUP", "rejected", "price: 'oops' is not a price (expected e.g. '15.00 USD')"),
        (6, "DUP", "created", ""),
    ]
    assert (job.created_count, job.duplicate_count, job.rejected_count) == (2, 1, 1)


def test_duplicates_across_many_buckets_and_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given tiny buckets and batches, so the spool and batching paths are all exercised
    monkeypatch.setattr(imports, "BUCKET_ITEMS", 7)
    monkeypatch.setattr(imports, "BATCH", 5)
    skus = [f"S{n % 40}" for n in range(60)]  # 20 skus appear twice
    feed = rss(*[item(sku=sku, price=f"{n + 1} USD") for n, sku in enumerate(skus)])

    # when imported
    job = run(tmp_path, feed)

    # then each sku holds its last price
    assert (job.created_count, job.duplicate_count, job.processed) == (40, 20, 60)
    prices = dict(Product.objects.values_list("sku", "offer__price"))
    assert prices["S0"] == Decimal("41")
    assert prices["S39"] == Decimal("40")
    assert ImportItem.objects.filter(job=job).count() == 60


def test_reimport_with_a_duplicate_is_still_unchanged(tmp_path: Path) -> None:
    feed = rss(item(sku="A", price="1 USD"), item(sku="A", price="2 USD"))
    run(tmp_path, feed, name="1.xml")
    before = catalog_state()
    job = run(tmp_path, feed, name="2.xml")
    assert (job.unchanged_count, job.duplicate_count, job.updated_count) == (1, 1, 0)
    assert catalog_state() == before


def test_dry_run_reports_without_writing_products(tmp_path: Path) -> None:
    # given an existing product and a feed changing it and adding another
    run(tmp_path, rss(item(sku="A", price="5 USD")), name="1.xml")
    before = catalog_state()

    # when dry-run
    job = run(tmp_path, rss(item(sku="A", price="6 USD"), item(sku="B")), dry_run=True)

    # then the report says what would happen and the catalog is as it was
    assert job.status == ImportJob.Status.SUCCEEDED
    assert job.dry_run
    assert (job.created_count, job.updated_count) == (1, 1)
    assert catalog_state() == before
    assert Product.objects.get(sku="A").offer.price == Decimal("5")


def progress_seen(tmp_path: Path) -> list[tuple[int, int | None, int]]:
    """(done, total, stored processed) at every progress callback of a 10-item import."""
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(*[item(sku=f"P{n}") for n in range(10)]))
    job = imports.start_import(path=path)
    seen: list[tuple[int, int | None, int]] = []

    def progress(done: int, total: int | None) -> None:
        stored = ImportJob.objects.get(pk=job.pk)
        seen.append((done, total, stored.processed))

    imports.run_import(job.pk, progress=progress)
    return seen


def test_progress_is_committed_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given small batches, no minimum interval between progress commits
    monkeypatch.setattr(imports, "BATCH", 4)
    monkeypatch.setattr(imports, "PROGRESS_SECONDS", 0)

    # when run, then the stored progress moved with every batch
    assert progress_seen(tmp_path) == [(0, 10, 0), (4, 10, 4), (8, 10, 8), (10, 10, 10)]


def test_progress_is_committed_at_most_every_interval_and_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given small batches and an interval longer than the whole import
    monkeypatch.setattr(imports, "BATCH", 4)
    monkeypatch.setattr(imports, "PROGRESS_SECONDS", 3600)

    # when run, then the first batch and the end of staging were committed, nothing between
    assert progress_seen(tmp_path) == [(0, 10, 0), (4, 10, 4), (10, 10, 10)]


def test_a_finished_job_is_not_run_again(tmp_path: Path) -> None:
    job = run(tmp_path, rss(item()))
    Product.objects.all().delete()
    again = imports.run_import(job.pk)
    assert again.status == ImportJob.Status.SUCCEEDED
    assert not Product.objects.exists()


def test_a_stale_running_job_is_taken_over(tmp_path: Path) -> None:
    # given a job left running by a worker that died long ago
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(item()))
    job = imports.start_import(path=path)
    from django.utils import timezone

    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now() - imports.STALE_AFTER * 2
    )
    # when it is run again then it finishes
    assert imports.run_import(job.pk).status == ImportJob.Status.SUCCEEDED
    assert Product.objects.filter(sku="SKU-1").exists()


def test_a_recently_started_running_job_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(item()))
    job = imports.start_import(path=path)
    from django.utils import timezone

    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now()
    )
    assert imports.run_import(job.pk).status == ImportJob.Status.RUNNING
    assert not Product.objects.exists()


def test_the_sample_fixture_imports(tmp_path: Path) -> None:
    job = imports.run_import(imports.start_import(path=FIXTURES / "rss_valid.xml").pk)
    assert job.status == ImportJob.Status.SUCCEEDED
    assert job.created_count == 3
    tv = Product.objects.get(sku="TV-22LB4510")
    assert tv.gtin == "8806084896254"
    assert tv.extra["custom_labels"] == ["summer", "", "", "", "clearance"]


# --------------------------------------------------------------------------------------------
# Bad items: rejected with reason and line, the rest imports
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (item(sku="BAD", price="-5.00 USD"), "price: '-5.00 USD' is negative"),
        (item(sku="BAD", price="abc"), "price: 'abc' is not a price"),
        (item(sku="BAD", title="x" * 10_000), "title: 10000 characters, the maximum is 150"),
        (item(sku="BAD", link="javascript:alert(1)"), "link: 'javascript:alert(1)' is not an"),
        (item(sku="BAD", image_link="/img.jpg"), "image_link: '/img.jpg' is not an absolute"),
        (item(sku="BAD", price="15.00 ABC"), "price: unknown currency 'ABC' (not ISO 4217)"),
        (item(sku="BAD", price="15.00 XAU"), "price: currency XAU is not a circulating"),
    ],
    ids=["negative", "non-numeric", "long-title", "bad-url", "relative-url", "unknown", "gold"],
)
def test_invalid_items_are_rejected_and_the_rest_imports(
    tmp_path: Path, bad: str, reason: str
) -> None:
    # given a bad item between two good ones
    job = run(tmp_path, rss(item(sku="OK1"), bad, item(sku="OK2")))

    # then the job succeeds, the bad item is rejected with its line and reason
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.created_count, job.rejected_count) == (2, 1)
    [(line, sku, _, why)] = [o for o in outcomes(job) if o[2] == "rejected"]
    assert (line, sku) == (4, "BAD")
    assert why.startswith(reason)
    assert set(Product.objects.values_list("sku", flat=True)) == {"OK1", "OK2"}


# --------------------------------------------------------------------------------------------
# Bad documents: the job fails with a position and nothing changes
# --------------------------------------------------------------------------------------------


def _truncated() -> bytes:
    doc = rss(item(sku="A"), item(sku="B"), item(sku="C"))
    return doc[: doc.index(b"<g:id>C")]


BAD_DOCUMENTS = {
    "billion-laughs": (BILLION_LAUGHS, "DTDs are not allowed"),
    "quadratic-blowup": (QUADRATIC_BLOWUP, "DTDs are not allowed"),
    "xxe-file": (xxe("file:///etc/passwd"), "DTDs are not allowed"),
    "xxe-file-long-prolog": (
        xxe("file:///etc/passwd", prolog=DECLARATION + "<!--" + "x" * 300_000 + "-->\n"),
        "DTDs are not allowed",
    ),
    "binary-garbage": (bytes(range(256)) * 40, "not well-formed XML"),
    "not-xml": (b"id,title,price\n1,Mug,15 USD\n", "not well-formed XML"),
    "wrong-root": (b'<?xml version="1.0"?>\n<products><item/></products>', "root element is"),
    "wrong-declared-encoding": (
        '<?xml version="1.0" encoding="UTF-8"?><rss><channel><item><g:title>Café</g:title>'
        "</item></channel></rss>".encode("latin-1"),
        "",
    ),
    "truncated": (_truncated(), "truncated or malformed document"),
    "empty": (b"", "empty document"),
}


@pytest.mark.parametrize("name", list(BAD_DOCUMENTS))
def test_a_malformed_document_fails_the_job_and_changes_nothing(tmp_path: Path, name: str) -> None:
    # given an existing catalog
    run(tmp_path, rss(item(sku="A", price="3 USD")), name="seed.xml")
    before = catalog_state()
    content, message = BAD_DOCUMENTS[name]

    # when a bad document is imported
    job = run(tmp_path, content)

    # then the job failed with a clear error, and nothing was written
    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith(message) or message in job.error
    assert job.error_line is not None
    assert not job.items.exists()
    assert (job.created_count, job.updated_count, job.rejected_count) == (0, 0, 0)
    assert catalog_state() == before
    assert Product.objects.get(sku="A").offer.price == Decimal("3")
    assert passwd_line() not in job.error
    # and no spool file is left behind
    assert list((tmp_path / "imports").iterdir()) == []


def test_a_truncated_feed_keeps_even_its_complete_items_out(tmp_path: Path) -> None:
    job = run(tmp_path, _truncated())
    assert job.status == ImportJob.Status.FAILED
    assert (job.error_line, job.error_column) != (None, None)
    assert not Product.objects.exists()
    assert not Offer.objects.exists()


@pytest.mark.parametrize("kind", ["external-entity", "external-dtd"])
def test_external_entities_and_dtds_are_never_fetched(
    tmp_path: Path, http_server: tuple[str, list[str]], kind: str
) -> None:
    base, requests = http_server
    long_prolog = "<!--" + "x" * 300_000 + "-->\n"
    docs = {
        "external-entity": xxe(f"{base}/entity", prolog=DECLARATION + long_prolog),
        "external-dtd": (
            f'<?xml version="1.0"?>\n{long_prolog}<!DOCTYPE rss SYSTEM "{base}/evil.dtd">'
            f'<rss xmlns:g="{G}"><channel><item>{item()}</item></channel></rss>'
        ).encode(),
    }
    job = run(tmp_path, docs[kind])
    assert job.status == ImportJob.Status.FAILED
    assert "DTDs are not allowed" in job.error
    assert requests == []
    assert not Product.objects.exists()


def test_an_unreadable_file_fails_the_job(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(item()))
    job = imports.start_import(path=path)
    path.unlink()
    job = imports.run_import(job.pk)
    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith("The feed file could not be read")


# --------------------------------------------------------------------------------------------
# Storing uploads
# --------------------------------------------------------------------------------------------


def test_upload_is_stored_under_import_dir(tmp_path: Path) -> None:
    import io

    job = imports.start_import(upload=io.BytesIO(rss(item())), filename="f.xml")
    stored = Path(job.path)
    assert stored.parent == tmp_path / "imports"
    assert stored.read_bytes() == rss(item())
    assert (job.size, job.filename, job.status) == (len(rss(item())), "f.xml", "queued")


def test_an_upload_over_the_limit_is_refused_and_not_kept(settings: Any, tmp_path: Path) -> None:
    from pricewatch.core.errors import DomainError

    settings.MAX_UPLOAD_BYTES = 1000

    class Endless:
        """A stream that would go on for 2 GB: the copy must stop at the limit."""

        def __init__(self) -> None:
            self.read_bytes = 0

        def read(self, size: int) -> bytes:
            if self.read_bytes >= 2 * 1024**3:
                return b""
            self.read_bytes += size
            return b"x" * size

    stream = Endless()
    with pytest.raises(DomainError) as caught:
        imports.start_import(upload=stream)  # type: ignore[arg-type]
    assert caught.value.status == 413
    assert stream.read_bytes <= imports.COPY_CHUNK
    assert list((tmp_path / "imports").iterdir()) == []
    assert not ImportJob.objects.exists()


@pytest.mark.django_db(transaction=True)  # the cache is cleared after commit
def test_an_import_refreshes_cached_facet_counts_at_once(tmp_path: Path) -> None:
    # given facet counts cached before an import
    from pricewatch.catalog import selectors

    run(tmp_path, rss(item(sku="A", brand="Hydra")), name="first.xml")
    filters = selectors.ProductFilters()
    assert selectors.cached_product_facets(filters).count == 1

    # when another product arrives through a feed
    run(tmp_path, rss(item(sku="A", brand="Hydra"), item(sku="B", brand="Acme")), name="two.xml")

    # then the counts show it without waiting for the cache to expire
    assert selectors.cached_product_facets(filters).count == 2
