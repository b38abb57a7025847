"""Parallel staging: a feed staged by several worker processes imports exactly as sequentially.

Every test imports the same bytes twice: once with IMPORT_WORKERS=1 inside a transaction that
is rolled back (the reference), once with several workers and the size threshold at zero,
and compares everything a job leaves behind: status, error position, counts, report rows
and the products.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from pricewatch.catalog import feeds, imports, parallel, staging
from pricewatch.catalog.models import ImportItem, ImportJob, Product
from tests.catalog.factories import catalog_state

G = "http://base.google.com/ns/1.0"
ATOM = "http://www.w3.org/2005/Atom"
WORKERS = 3

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _import_dir(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.IMPORT_PARALLEL_MIN_BYTES = 0
    return settings.IMPORT_DIR


@pytest.fixture
def parallel_runs(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """What each parallel staging attempt returned: an item count, or None (fell back)."""
    runs: list[int | None] = []
    original = parallel.ParallelStager.stage

    def spy(*args: Any, **kwargs: Any) -> int | None:
        result = original(*args, **kwargs)
        runs.append(result)
        return result

    monkeypatch.setattr(parallel.ParallelStager, "stage", spy)
    return runs


def attrs(**values: str) -> str:
    return "".join(f"\n  <g:{k}>{v}</g:{k}>" for k, v in values.items())


def rss(items: list[str], *, declaration: str = '<?xml version="1.0" encoding="UTF-8"?>\n') -> str:
    body = "\n".join(f"<item>{item}\n</item>" for item in items)
    return (
        f'{declaration}<rss version="2.0" xmlns:g="{G}">\n<channel>\n<title>Shop</title>\n'
        f"<link>https://shop.example.com/</link>\n{body}\n</channel>\n</rss>\n"
    )


def catalog_items(count: int, *, distinct: int | None = None) -> list[str]:
    """Varied items: duplicates (when `distinct` < count), rejections, optional attributes."""
    items = []
    for n in range(count):
        sku = f"SKU-{n % (distinct or count)}"
        price = "oops" if n % 17 == 5 else f"{n + 1}.50 USD"
        more: dict[str, str] = {}
        if n % 3 == 0:
            more["sale_price"] = f"{n + 1}.00 USD"
        if n % 4 == 0:
            more["description"] = f"<![CDATA[Line one <b>{n}</b>\nline two & more]]>"
        if n % 5 == 0:
            more["availability"] = "out of stock"
        if n % 11 == 3:
            more["gtin"] = "123"  # rejected: not a GTIN
        items.append(attrs(id=sku, title=f"Product {n}", price=price, **more))
    return items


def product_rows() -> list[tuple[Any, ...]]:
    """Every product column but ids, timestamps and the raw digest (set only by workers that
    read the committed catalog, which the sequential reference inside a transaction is not)."""
    fields = [
        f.attname
        for f in Product._meta.concrete_fields
        if f.attname not in ("id", "offer_id", "created_at", "updated_at", "raw_hash")
    ]
    return list(Product.objects.order_by("sku").values_list(*fields))


def snapshot(job: ImportJob) -> dict[str, Any]:
    return {
        "status": job.status,
        "error": (job.error, job.error_line, job.error_column),
        "counts": dict(imports.summary(job)),
        "processed": (job.processed, job.total),
        "report": list(
            ImportItem.objects.filter(job=job)
            .order_by("line", "pk")
            .values_list("line", "sku", "outcome", "reason")
        ),
        "products": product_rows(),
        "catalog": catalog_state(),
    }


def run(path: Path) -> ImportJob:
    job = imports.start_import(path=path)
    return imports.run_import(job.pk)


def import_both(settings: Any, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(sequential snapshot, parallel snapshot) of importing `path` into the current catalog."""
    settings.IMPORT_WORKERS = 1
    with transaction.atomic():
        expected = snapshot(run(path))
        transaction.set_rollback(True)
    settings.IMPORT_WORKERS = WORKERS
    return expected, snapshot(run(path))


def write(tmp_path: Path, content: str | bytes, name: str = "feed.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def line_of(content: str, needle: str) -> int:
    """Line of the item start tag before `needle`."""
    at = content.index(needle)
    return content.count("\n", 0, content.rindex("<item", 0, at)) + 1


UNCONVERTED = "unconverted"  # staged without being converted: the catalog held it


def kind(item: staging.StagedItem) -> str:
    return "converted" if item.converted else UNCONVERTED


# --------------------------------------------------------------------------------------------


def test_a_parallel_import_equals_the_sequential_one(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None]
) -> None:
    # given a feed with duplicates across parts, rejections and multi-line items
    content = rss(catalog_items(300, distinct=200))
    path = write(tmp_path, content)

    # when imported sequentially and in parallel
    expected, actual = import_both(settings, path)

    # then the parallel path ran and gave exactly the sequential result
    assert parallel_runs == [300]
    assert actual == expected
    assert actual["counts"]["duplicate"] > 50
    assert actual["counts"]["rejected"] > 0
    # and no spool file is left behind
    assert list((tmp_path / "imports").iterdir()) == []


def test_rejected_items_report_their_true_line_numbers(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None]
) -> None:
    items = catalog_items(120)
    items[110] = attrs(id="LATE-BAD", title="Late", price="12 XYZ")
    content = rss(items)
    path = write(tmp_path, content)

    expected, actual = import_both(settings, path)

    assert parallel_runs == [120]
    assert actual == expected
    rejected = {sku: line for line, sku, outcome, _ in actual["report"] if outcome == "rejected"}
    assert rejected["LATE-BAD"] == line_of(content, "LATE-BAD")


def test_duplicates_in_different_parts_the_last_one_wins(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None]
) -> None:
    filler = [attrs(id=f"F{n}", title="Filler", price="1 USD") for n in range(90)]
    items = [
        attrs(id="DUP", title="First", price="10 USD"),
        *filler[:45],
        attrs(id="DUP", title="Middle", price="11 USD"),
        *filler[45:],
        attrs(id="DUP", title="Last", price="12 USD"),
    ]
    content = rss(items)
    path = write(tmp_path, content)

    expected, actual = import_both(settings, path)

    assert parallel_runs == [93]
    assert actual == expected
    product = Product.objects.get(sku="DUP")
    assert (product.title, product.offer.price) == ("Last", Decimal("12"))
    last = line_of(content, "<g:title>Last")
    duplicates = [r for r in actual["report"] if r[1] == "DUP" and r[2] == "duplicate"]
    assert duplicates == [
        (
            line_of(content, "<g:title>First"),
            "DUP",
            "duplicate",
            f"superseded by the item on line {last} with the same sku",
        ),
        (
            line_of(content, "<g:title>Middle"),
            "DUP",
            "duplicate",
            f"superseded by the item on line {last} with the same sku",
        ),
    ]


@pytest.mark.parametrize("trap", ["cdata", "comment"])
def test_a_split_inside_cdata_or_a_comment_falls_back_and_is_still_right(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None], trap: str
) -> None:
    # given a feed whose middle is one item's CDATA (or a comment) full of "<item>" text,
    # so every cut point lands inside it
    noise = "<item>\n" * 20_000
    if trap == "cdata":
        middle = attrs(id="BIG", title="Big", price="3 USD", description=f"<![CDATA[{noise}]]>")
        items = [*catalog_items(5), middle, *catalog_items(5)]
        content = rss(items)
    else:
        content = rss(catalog_items(5)).replace(
            "<title>Shop</title>", f"<title>Shop</title>\n<!-- {noise} -->"
        )
    path = write(tmp_path, content)

    expected, actual = import_both(settings, path)

    # then the parallel attempt was given up and the sequential path gave the result
    assert parallel_runs == [None]
    assert actual == expected
    assert actual["status"] == ImportJob.Status.SUCCEEDED
    assert list((tmp_path / "imports").iterdir()) == []


def test_a_truncated_document_fails_like_the_sequential_path_and_writes_nothing(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None]
) -> None:
    # given an existing catalog and a feed cut off in its last item
    run(write(tmp_path, rss([attrs(id="KEEP", title="Kept", price="3 USD")]), "seed.xml"))
    before = catalog_state()
    content = rss(catalog_items(150))
    content = content[: content.rindex("<g:title>")]
    path = write(tmp_path, content)

    expected, actual = import_both(settings, path)

    assert parallel_runs[-1] is None  # (the seed was staged in parallel)
    assert actual == expected
    assert actual["status"] == ImportJob.Status.FAILED
    assert actual["error"][0].startswith("truncated or malformed document")
    assert actual["error"][1] is not None and actual["error"][2] is not None
    assert actual["report"] == []
    assert catalog_state() == before
    assert [p[0] for p in product_rows()] == ["KEEP"]
    assert sorted(p.name for p in (tmp_path / "imports").iterdir()) == []


def test_a_feed_in_another_encoding_is_staged_sequentially(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None]
) -> None:
    items = [attrs(id=f"L{n}", title=f"Café crème {n}", price="2 EUR") for n in range(60)]
    content = rss(items, declaration='<?xml version="1.0" encoding="ISO-8859-1"?>\n')
    path = write(tmp_path, content.encode("latin-1"))

    expected, actual = import_both(settings, path)

    assert parallel_runs == []  # never split
    assert actual == expected
    assert Product.objects.get(sku="L7").title == "Café crème 7"


def atom_feed() -> str:
    """100 Atom entries in the default namespace, 70 distinct skus."""
    entries = "\n".join(
        f"<entry>\n  <id>tag:shop,2024:{n}</id>\n  <title>Atom title {n}</title>"
        f"\n  <g:id>A{n % 70}</g:id>\n  <g:price>{n + 1} EUR</g:price>"
        f'\n  <link href="https://shop.example.com/p/{n}"/>\n</entry>'
        for n in range(100)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="{ATOM}" xmlns:g="{G}">\n'
        f"<title>Shop</title>\n{entries}\n</feed>\n"
    )


def test_an_atom_feed_imports_in_parallel(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None]
) -> None:
    path = write(tmp_path, atom_feed())

    expected, actual = import_both(settings, path)

    assert parallel_runs == [100]
    assert actual == expected
    assert actual["counts"]["created"] == 70
    assert Product.objects.get(sku="A5").link == "https://shop.example.com/p/75"


def test_prefixed_atom_elements_split_too(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None]
) -> None:
    entries = "\n".join(
        f"<a:entry><a:title>T{n}</a:title><g:id>P{n}</g:id><g:price>{n + 1} EUR</g:price></a:entry>"
        for n in range(90)
    )
    content = f'<a:feed xmlns:a="{ATOM}" xmlns:g="{G}">\n{entries}\n</a:feed>'
    path = write(tmp_path, content)

    expected, actual = import_both(settings, path)

    assert parallel_runs == [90]
    assert actual == expected
    assert actual["counts"]["created"] == 90


def test_an_item_after_a_second_channel_is_not_split_wrongly(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None]
) -> None:
    # given a document with two channels (the second one declares g: itself)
    first = "\n".join(
        f"<item>{attrs(id=f'C{n}', title='One', price='1 USD')}</item>" for n in range(40)
    )
    second = "\n".join(
        f"<item>{attrs(id=f'D{n}', title='Two', price='2 USD')}</item>" for n in range(60)
    )
    content = (
        f'<rss version="2.0" xmlns:g="{G}"><channel>\n{first}\n</channel>\n'
        f'<channel xmlns:g="{G}">\n{second}\n</channel></rss>'
    )
    path = write(tmp_path, content)

    expected, actual = import_both(settings, path)

    assert parallel_runs == [None]
    assert actual == expected
    assert actual["counts"]["created"] == 100


@pytest.mark.django_db(transaction=True)  # workers read the committed digests themselves
def test_reimporting_unchanged_uses_the_fast_path_in_the_workers(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.IMPORT_WORKERS = WORKERS
    content = rss(catalog_items(200, distinct=150))
    path = write(tmp_path, content)
    first = run(path)
    state = (catalog_state(), product_rows())
    kinds: list[str] = []
    original: Callable[..., Any] = imports._apply

    def spy(job: ImportJob, spool: staging.Spool) -> Any:
        for bucket in range(spool.buckets):
            kinds.extend(kind(item) for item in spool.items(bucket))
        return original(job, spool)

    monkeypatch.setattr(imports, "_apply", spy)

    again = run(path)

    assert parallel_runs == [200, 200]
    # every winning item was recognised by its digest in a worker (earlier duplicates differ
    # from the stored winner, so they are converted again, as sequentially)
    assert kinds.count(UNCONVERTED) == first.created_count
    assert (catalog_state(), product_rows()) == state
    assert again.unchanged_count == first.created_count
    assert again.duplicate_count == first.duplicate_count
    assert again.rejected_count == first.rejected_count
    report = list(again.items.order_by("line").values_list("line", "sku", "outcome"))
    reference = list(first.items.order_by("line").values_list("line", "sku", "outcome"))
    assert report == [
        (line, sku, "unchanged" if outcome == "created" else outcome)
        for line, sku, outcome in reference
    ]


def test_parts_start_at_item_tags_and_cover_the_file(tmp_path: Path) -> None:
    content = rss(catalog_items(50))
    path = write(tmp_path, content)

    plan = parallel.plan(str(path), 4)

    assert plan is not None
    assert len(plan.splits) == 3
    raw = path.read_bytes()
    assert all(raw[cut : cut + 6] == b"<item>" for cut in plan.splits)
    assert raw[: plan.prefix_end].endswith(b"<channel>")
    assert plan.closers == b"</channel></rss>"
    parts = plan.parts()
    assert [(p.start, p.end) for p in parts] == list(
        zip([0, *plan.splits], [*plan.splits, len(raw)], strict=True)
    )
    counts = [parallel.count_part(str(path), p.start, p.end) for p in parts]
    assert sum(items for items, _ in counts) == feeds.count_items(path) == 50
    # a later part's document starts with the prefix: its line N is the file's N + offset
    prefix_lines = raw[: plan.prefix_end].count(b"\n")
    assert plan.line_offsets([lines for _, lines in counts]) == [
        0,
        *(raw.count(b"\n", 0, cut) - prefix_lines for cut in plan.splits),
    ]


@pytest.mark.parametrize(
    "head",
    [
        '<?xml version="1.0" encoding="windows-1252"?>\n<rss><channel>',
        "<!DOCTYPE rss>\n<rss><channel>",
        "<products><item>",
    ],
)
def test_documents_that_are_never_split(tmp_path: Path, head: str) -> None:
    path = write(tmp_path, head + "<item><g:id>x</g:id></item>\n" * 50 + "</channel></rss>")
    assert parallel.plan(str(path), 4) is None


def test_progress_moves_while_the_workers_stage(
    settings: Any,
    tmp_path: Path,
    parallel_runs: list[int | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.IMPORT_WORKERS = WORKERS
    monkeypatch.setattr(imports, "BATCH", 5)
    monkeypatch.setattr(imports, "PROGRESS_SECONDS", 0)
    path = write(tmp_path, rss(catalog_items(40)))
    job = imports.start_import(path=path)
    seen: list[tuple[int, int | None, int]] = []

    def progress(done: int, total: int | None) -> None:
        seen.append((done, total, ImportJob.objects.get(pk=job.pk).processed))

    imports.run_import(job.pk, progress=progress)

    assert parallel_runs == [40]
    assert seen[0] == (0, 40, 0)
    assert seen[-1] == (40, 40, 40)
    assert len(seen) > 4
    assert all(done == stored for done, _, stored in seen)


def test_oversized_items_are_judged_as_in_the_whole_file(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None]
) -> None:
    # given items around the parser's ~1 MiB item limit (counted in 128 KiB chunks of the
    # file) behind the cut points
    mib = 1024 * 1024
    items = [
        *catalog_items(30),
        attrs(id="NEAR", title="Near", price="1 USD", description="x" * (mib - 200_000)),
        *catalog_items(3),
        attrs(id="OVER", title="Over", price="1 USD", description="y" * (mib + 100_000)),
        *catalog_items(3),
        attrs(id="EDGE", title="Edge", price="1 USD", description="z" * (mib - 140_000)),
        *catalog_items(30),
    ]
    path = write(tmp_path, rss(items))

    expected, actual = import_both(settings, path)

    assert parallel_runs == [sum(1 for _ in items)]
    assert actual == expected
    assert any("larger than" in reason for *_, reason in actual["report"])


# --------------------------------------------------------------------------------------------
# Raw spans: unchanged items recognised by their bytes (workers that read the committed
# catalog, hence transactional tests)
# --------------------------------------------------------------------------------------------


def staged_kinds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(kind, digest) of every staged row of the imports run after this call."""
    seen: list[tuple[str, str]] = []
    original: Callable[..., Any] = imports._apply

    def spy(job: ImportJob, spool: staging.Spool) -> Any:
        for bucket in range(spool.buckets):
            seen.extend((kind(item), item.digest) for item in spool.items(bucket))
        return original(job, spool)

    monkeypatch.setattr(imports, "_apply", spy)
    return seen


def as_reimport(report: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [
        (line, sku, "unchanged" if outcome == "created" else outcome, reason)
        for line, sku, outcome, reason in report
    ]


@pytest.mark.django_db(transaction=True)
def test_a_reimport_knows_unchanged_items_by_their_bytes_alone(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a catalog imported in parallel, whose products keep their items' raw digests
    settings.IMPORT_WORKERS = WORKERS
    path = write(tmp_path, rss(catalog_items(200, distinct=150)))
    first = snapshot(run(path))
    assert Product.objects.filter(raw_hash="").count() == 0
    # and whose parsed-item digests are gone, so only the raw digests can tell
    Product.objects.update(content_hash="")
    kinds = staged_kinds(monkeypatch)

    # when the same file is imported again
    again = snapshot(run(path))

    # then every winning item was staged unchanged without being parsed (no parsed digest)
    assert kinds.count((UNCONVERTED, "")) == first["counts"]["created"]
    assert again["report"] == as_reimport(first["report"])
    assert again["catalog"] == first["catalog"]
    assert parallel_runs == [200, 200]


@pytest.mark.django_db(transaction=True)
def test_an_atom_reimport_knows_unchanged_entries_by_their_bytes(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.IMPORT_WORKERS = WORKERS
    path = write(tmp_path, atom_feed())
    first = snapshot(run(path))
    kinds = staged_kinds(monkeypatch)

    again = snapshot(run(path))

    # the 70 winning entries unparsed; the 30 superseded ones differ from their winner
    assert kinds.count((UNCONVERTED, "")) == 70
    assert again["report"] == as_reimport(first["report"])
    assert again["catalog"] == first["catalog"]


@pytest.mark.django_db(transaction=True)
def test_changed_bytes_are_parsed_and_the_product_learns_its_new_digest(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.IMPORT_WORKERS = WORKERS
    items = catalog_items(60)
    run(write(tmp_path, rss(items)))
    before = Product.objects.get(sku="SKU-7").raw_hash
    # one price changes, another item only changes its layout (same content)
    items[7] = items[7].replace("8.50 USD", "9.75 USD")
    items[8] = items[8].replace("\n  <g:", "\n    <g:")
    kinds = staged_kinds(monkeypatch)

    job = run(write(tmp_path, rss(items), "changed.xml"))

    assert (job.updated_count, job.unchanged_count, job.rejected_count) == (1, 49, 10)
    product = Product.objects.get(sku="SKU-7")
    assert product.offer.price == Decimal("9.75")
    assert product.raw_hash not in ("", before)
    # the reformatted item was parsed (its parsed digest matched) and its new bytes stored
    assert kinds.count((UNCONVERTED, "")) == 48
    relaid = Product.objects.get(sku="SKU-8").raw_hash
    kinds.clear()
    run(write(tmp_path, rss(items), "again.xml"))
    assert Product.objects.get(sku="SKU-8").raw_hash == relaid
    assert kinds.count((UNCONVERTED, "")) == 50


@pytest.mark.django_db(transaction=True)
def test_an_edit_through_the_api_makes_the_next_import_restore_the_item(
    settings: Any, tmp_path: Path
) -> None:
    from pricewatch.catalog import services

    settings.IMPORT_WORKERS = WORKERS
    path = write(tmp_path, rss(catalog_items(40)))
    run(path)
    product = Product.objects.get(sku="SKU-4")
    services.update_product(product=product, actor=None, title="Edited by hand")
    assert Product.objects.get(sku="SKU-4").raw_hash == ""

    job = run(path)

    assert job.updated_count == 1
    assert Product.objects.get(sku="SKU-4").title == "Product 4"


KNOWN = attrs(id="KNOWN", title="Known", price="5 USD")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("trap", ["cdata", "comment between items", "comment in the head"])
def test_known_item_bytes_that_are_no_item_are_not_taken_for_one(
    settings: Any, tmp_path: Path, parallel_runs: list[int | None], trap: str
) -> None:
    # given a catalog that stored the raw digest of an item KNOWN
    settings.IMPORT_WORKERS = WORKERS
    run(write(tmp_path, rss([*catalog_items(30), KNOWN, *catalog_items(30)])))
    known = f"<item>{KNOWN}\n</item>"
    assert known in rss([KNOWN])
    # and a feed where exactly those bytes stand where they are not an item
    items = catalog_items(60)
    if trap == "cdata":
        items[30] = attrs(
            id="HOST", title="Host", price="1 USD", description=f"<![CDATA[\n{known}\n]]>"
        )
        content = rss(items)
    elif trap == "comment between items":
        content = rss(items).replace(f"<item>{items[31]}", f"<!--\n{known}\n-->\n<item>{items[31]}")
    else:
        content = rss(items).replace(
            "<title>Shop</title>", f"<title>Shop</title>\n<!--\n{known}\n-->"
        )
    assert known in content
    path = write(tmp_path, content, "trap.xml")

    # when imported in parallel, and sequentially for reference
    expected, actual = import_both(settings, path)

    # then both agree, and KNOWN is not in the report at all
    assert actual == expected
    assert all(sku != "KNOWN" for _, sku, *_ in actual["report"])
    assert parallel_runs[-1] == 60


@pytest.mark.django_db(transaction=True)
def test_raw_spans_report_true_line_numbers_past_line_65535(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a feed of ~75,000 lines with rejected items far down, imported once
    settings.IMPORT_WORKERS = WORKERS
    items = catalog_items(12_000)
    items[11_500] = attrs(id="FAR-BAD", title="Far", price="12 XYZ")
    content = rss(items)
    assert content.count("\n") > 70_000
    path = write(tmp_path, content)
    run(path)
    kinds = staged_kinds(monkeypatch)

    # when imported again (raw spans: most items unchanged, the rejected ones parsed)
    job = run(path)

    # then every report line is the line of the item's start tag in the file
    assert kinds.count((UNCONVERTED, "")) > 10_000
    lines = {sku: line for line, sku in job.items.values_list("line", "sku")}
    assert lines["FAR-BAD"] == line_of(content, "FAR-BAD") > 65_535
    assert lines["SKU-11999"] == line_of(content, "<g:id>SKU-11999<")
    assert lines["SKU-1"] == line_of(content, "<g:id>SKU-1<")


@pytest.mark.parametrize(
    ("span", "closed"),
    [
        (b"<item><a>x</a></item>", True),
        (b"<item><a><![CDATA[ </item> ]]></a></item>", True),
        (b"<item><a><![CDATA[ x </item>", False),
        (b"<item><!-- c --><a/></item>", True),
        (b"<item><!-- </item>", False),
        (b"<item><?pi x?></item>", True),
        (b"<item><a>x</a><item>y</item>", False),
        (b"<item><items>x</items></item>", True),
        (b"<item>" + b"<a><![CDATA[]]><!----><?p?></a>" * 5000 + b"</item>", True),
        (b"<item>" + b"<a><![CDATA[]]></a>" * 5000 + b"<![CDATA[</item>", False),
    ],
)
def test_a_span_is_closed_only_when_its_end_tag_is_markup(span: bytes, closed: bool) -> None:
    assert parallel._lexically_closed(span, b"<item") is closed


@pytest.mark.django_db(transaction=True)
def test_an_edit_made_while_a_reimport_runs_is_not_taken_for_the_item(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pricewatch.catalog import services

    settings.IMPORT_WORKERS = WORKERS
    path = write(tmp_path, rss(catalog_items(40)))
    run(path)
    original: Callable[..., Any] = imports._apply

    def edit_then_apply(job: ImportJob, spool: staging.Spool) -> Any:
        # an admin edits a product after the workers found it unchanged by its bytes
        product = Product.objects.get(sku="SKU-4")
        services.update_product(product=product, actor=None, title="Edited meanwhile")
        return original(job, spool)

    monkeypatch.setattr(imports, "_apply", edit_then_apply)
    run(path)
    monkeypatch.setattr(imports, "_apply", original)

    # the edit stands, but the product no longer claims to be its item's bytes
    edited = Product.objects.get(sku="SKU-4")
    assert (edited.title, edited.raw_hash, edited.content_hash) == ("Edited meanwhile", "", "")
    # so the next import puts the feed's title back
    job = run(path)
    assert job.updated_count == 1
    assert Product.objects.get(sku="SKU-4").title == "Product 4"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("workers", [WORKERS, 1])
def test_a_product_deleted_while_a_reimport_runs_is_reported_not_recreated(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    from pricewatch.catalog import services

    settings.IMPORT_WORKERS = WORKERS
    path = write(tmp_path, rss(catalog_items(40)))
    run(path)
    settings.IMPORT_WORKERS = workers
    original: Callable[..., Any] = imports._apply
    kinds = staged_kinds(monkeypatch)
    staged_apply: Callable[..., Any] = imports._apply

    def delete_then_apply(job: ImportJob, spool: staging.Spool) -> Any:
        # an admin deletes a product after staging found it unchanged
        services.delete_product(product=Product.objects.get(sku="SKU-4"), actor=None)
        return staged_apply(job, spool)

    monkeypatch.setattr(imports, "_apply", delete_then_apply)
    job = run(path)
    monkeypatch.setattr(imports, "_apply", original)

    # (by its bytes in workers, by its parsed digest in one process)
    assert (UNCONVERTED, "") in kinds if workers > 1 else (UNCONVERTED, "") not in kinds
    item = job.items.get(sku="SKU-4")
    assert (item.outcome, item.reason) == (
        "rejected",
        "the product was deleted while the feed was importing; import it again",
    )
    assert not Product.objects.filter(sku="SKU-4").exists()
    assert job.unchanged_count == Product.objects.count()


@pytest.mark.django_db(transaction=True)
def test_batches_of_long_items_are_parsed_in_several_documents(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two parts of 1,250 items of ~60 lines, each part one batch: ~75,000 lines, more
    # than one document for the parser may hold (element lines are inexact past 65,535)
    settings.IMPORT_WORKERS = 2
    monkeypatch.setattr(imports, "BATCH", 5000)
    text = "\n".join(f"line {n}" for n in range(55))
    items = [
        attrs(id=f"L{n}", title=f"Long {n}", price="2 USD", description=text) for n in range(2500)
    ]
    content = rss(items)
    assert content.count("\n") > 140_000
    path = write(tmp_path, content)

    first = run(path)

    # then the parts were still staged by raw spans: every product knows its item's bytes
    assert first.created_count == 2500
    assert Product.objects.filter(raw_hash="").count() == 0
    lines = dict(first.items.values_list("sku", "line"))
    assert lines["L2499"] == line_of(content, "<g:id>L2499<")
