"""Product-feed imports: store the upload, then parse, validate and upsert products by sku.

`start_import` stores the file and creates the `ImportJob`; `run_import` (the worker side, or
the CLI in-process) does the work in two phases:

1. **Stage.** The feed is streamed through `feeds.parse_feed_batches`, outside any write
   transaction. Items whose XML digest equals the product's stored `content_hash` come back
   as `UnchangedItem` without being validated again (the re-import fast path). Valid items
   become compact rows written to spool files next to the upload, partitioned by sku into
   buckets of at most `BUCKET_ITEMS` items; `processed` is committed after every batch, so
   `GET /api/v1/imports/{id}` shows it moving. A malformed document fails the job here,
   before anything was written: the catalog is untouched.
2. **Apply.** One transaction: each bucket is read back, duplicate skus are resolved (the
   last item wins, earlier ones are reported as superseded), and the winners are applied in
   batches of `BATCH`: new products get an offer with their first price point through
   `pricing.services.create_offers`; changed ones are updated with one executemany and their
   price recorded through `pricing.services.record_prices` only when price, sale price,
   currency or availability changed; unchanged ones are counted and not written. The report
   rows and the final counts commit together with the products, or not at all.

Memory stays bounded by one bucket (plus one parse batch) whatever the size of the file; the
spool costs one sequential write and read of compact rows, far cheaper than holding a write
transaction (SQLite's single writer lock) for the whole parse.
"""

from __future__ import annotations

import json
import logging
import marshal
import os
import smtplib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from pricewatch.catalog import feeds, prices, selectors
from pricewatch.catalog.models import ImportItem, ImportJob, Product
from pricewatch.core.errors import DomainError
from pricewatch.pricing import services as pricing

logger = logging.getLogger(__name__)

# Items per parse batch, per digest lookup and per write batch.
BATCH = 2000
# At most this many items per spool bucket: what the apply phase holds in memory at once.
BUCKET_ITEMS = 25_000
# A job "running" for longer than this without finishing is taken to be lost (its worker
# died) and may be claimed again.
STALE_AFTER = timedelta(hours=1)
COPY_CHUNK = 1024 * 1024
ProgressCallback = Callable[[int, int | None], None]

# Product columns written from a feed item, in spool-row order (after kind, line, sku, digest).
FEED_COLUMNS = (
    "gtin",
    "mpn",
    "title",
    "description",
    "brand",
    "category",
    "google_product_category",
    "gender",
    "condition",
    "age_group",
    "color",
    "size",
    "link",
    "image_link",
    "availability",
    "quantity",
    "price",
    "sale_price",
    "currency",
    "extra",
)
_PRICE, _SALE, _CURRENCY, _AVAILABILITY = (
    FEED_COLUMNS.index(name) for name in ("price", "sale_price", "currency", "availability")
)
_TITLE, _IMAGE = FEED_COLUMNS.index("title"), FEED_COLUMNS.index("image_link")
# Spool row: (kind, line, sku, digest, *FEED_COLUMNS) for kind VALID, (kind, line, sku,
# digest) for kind UNCHANGED. Decimals travel as strings (marshal knows no Decimal).
VALID, UNCHANGED = "v", "u"


# --------------------------------------------------------------------------------------------
# Starting a job
# --------------------------------------------------------------------------------------------


def start_import(
    *,
    upload: IO[bytes] | None = None,
    path: str | os.PathLike[str] | None = None,
    filename: str = "",
    dry_run: bool = False,
    user: Any = None,
    enqueue: bool = True,
) -> ImportJob:
    """Store a feed and create its job; with `enqueue`, the worker runs it after commit.

    `upload` (an uploaded file or any binary stream) is copied under `settings.IMPORT_DIR`
    in chunks, refused with 413 past `settings.MAX_UPLOAD_BYTES`. `path` (the CLI) names a
    local file that is imported where it is, without a size limit.
    """
    if (upload is None) == (path is None):
        raise ValueError("give exactly one of upload or path")
    if upload is not None:
        stored, size = _store_upload(upload)
    else:
        assert path is not None
        stored = Path(path).resolve()
        if not stored.is_file():
            raise DomainError(f"No such file: {stored}", code="not_found", status=404)
        size = stored.stat().st_size
        filename = filename or stored.name
    job = ImportJob.objects.create(
        filename=filename[:255],
        path=str(stored),
        size=size,
        dry_run=dry_run,
        created_by=user if getattr(user, "pk", None) else None,
    )
    if enqueue:
        from pricewatch.catalog import tasks

        job_id = job.pk
        transaction.on_commit(lambda: tasks.run_import_task.delay(job_id))
    return job


def _store_upload(upload: IO[bytes]) -> tuple[Path, int]:
    limit = int(settings.MAX_UPLOAD_BYTES)
    folder = Path(settings.IMPORT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}.xml"
    size = 0
    chunks: Iterator[bytes]
    if hasattr(upload, "chunks"):
        chunks = upload.chunks(COPY_CHUNK)  # Django's UploadedFile
    else:
        chunks = iter(lambda: upload.read(COPY_CHUNK), b"")
    try:
        with target.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise DomainError(
                        f"The feed is larger than the limit of {limit} bytes.",
                        code="request_too_large",
                        status=413,
                    )
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, size


# --------------------------------------------------------------------------------------------
# Running a job
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicate: int = 0


@dataclass(slots=True)
class _Spool:
    """Staged rows on disk: valid/unchanged items by sku bucket, rejections in line order."""

    base: Path
    buckets: int
    files: list[IO[bytes]] = field(default_factory=list)
    pending: list[list[tuple[Any, ...]]] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    rejected_file: IO[bytes] | None = None

    def open(self) -> None:
        self.files = [self._path(n).open("wb") for n in range(self.buckets)]
        self.pending = [[] for _ in range(self.buckets)]
        self.rejected_file = self._path("rejected").open("wb")

    def _path(self, name: int | str) -> Path:
        return self.base.with_name(f"{self.base.name}.{name}.spool")

    def add(self, row: tuple[Any, ...]) -> None:
        self.pending[hash(row[2]) % self.buckets].append(row)

    def reject(self, line: int, sku: str, reason: str) -> None:
        self.rejected.append((line, sku, reason))

    def flush(self) -> None:
        for out, rows in zip(self.files, self.pending, strict=True):
            if rows:
                marshal.dump(rows, out)
                rows.clear()
        if self.rejected:
            assert self.rejected_file is not None
            marshal.dump(self.rejected, self.rejected_file)
            self.rejected.clear()

    def close(self) -> None:
        for out in [*self.files, self.rejected_file]:
            if out is not None:
                out.close()

    def read(self, name: int | str) -> Iterator[list[Any]]:
        with self._path(name).open("rb") as spool:
            while True:
                try:
                    # Our own spool, written by this run a moment ago: trusted input.
                    yield marshal.load(spool)  # noqa: S302
                except EOFError:
                    return

    def remove(self) -> None:
        self.close()
        for name in [*range(self.buckets), "rejected"]:
            self._path(name).unlink(missing_ok=True)


def run_import(job_id: int, *, progress: ProgressCallback | None = None) -> ImportJob:
    """Run one import job to its end (succeeded or failed); idempotent for finished jobs."""
    now = timezone.now()
    claimable = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED)
    claimed = claimable.update(status=ImportJob.Status.RUNNING, started_at=now)
    if not claimed:
        # A worker that died mid-import leaves the job running; its redelivered task (or a
        # later one) takes it over once it is stale. Nothing of the dead run was committed
        # but progress.
        claimed = ImportJob.objects.filter(
            pk=job_id, status=ImportJob.Status.RUNNING, started_at__lt=now - STALE_AFTER
        ).update(started_at=now, processed=0)
    job = ImportJob.objects.get(pk=job_id)
    if not claimed:
        return job
    spool: _Spool | None = None
    try:
        try:
            total = feeds.count_items(job.path)
            ImportJob.objects.filter(pk=job_id).update(total=total)
            job.total = total
            if progress is not None:
                progress(0, total)
            # In IMPORT_DIR, not next to the feed: a CLI import's folder may be read-only.
            folder = Path(settings.IMPORT_DIR)
            folder.mkdir(parents=True, exist_ok=True)
            spool = _Spool(folder / f"job-{job_id}", buckets=max(1, -(-total // BUCKET_ITEMS)))
            spool.open()
            processed = _stage(job, spool, progress)
        except feeds.FeedError as error:
            return _fail(job, error.message, error.line, error.column)
        except OSError as error:
            return _fail(job, f"The feed file could not be read: {error.strerror or error}")
        spool.close()
        with transaction.atomic():
            counts = _apply(job, spool)
            finished = timezone.now()
            ImportJob.objects.filter(pk=job_id).update(
                status=ImportJob.Status.SUCCEEDED,
                finished_at=finished,
                processed=processed,
                total=processed,
                created_count=counts.created,
                updated_count=counts.updated,
                unchanged_count=counts.unchanged,
                rejected_count=counts.rejected,
                duplicate_count=counts.duplicate,
            )
            _notify_after_commit(job_id)
            if not job.dry_run and (counts.created or counts.updated):
                # Cached facet counts and list totals would lag behind the catalog otherwise.
                transaction.on_commit(selectors.forget_cached_facets)
    except Exception:
        logger.exception("import %s crashed", job_id)
        _fail(job, "The import failed unexpectedly; see the server log.")
        raise
    finally:
        if spool is not None:
            spool.remove()
    job.refresh_from_db()
    logger.info(
        "import %s finished: %s created, %s updated, %s unchanged, %s rejected, %s duplicate",
        job_id,
        job.created_count,
        job.updated_count,
        job.unchanged_count,
        job.rejected_count,
        job.duplicate_count,
    )
    return job


def _fail(
    job: ImportJob, message: str, line: int | None = None, column: int | None = None
) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED,
        finished_at=timezone.now(),
        error=message,
        error_line=line,
        error_column=column,
        created_count=0,
        updated_count=0,
        unchanged_count=0,
        rejected_count=0,
        duplicate_count=0,
    )
    _notify_after_commit(job.pk)
    job.refresh_from_db()
    logger.info("import %s failed: %s (line %s, column %s)", job.pk, message, line, column)
    return job


def _notify_after_commit(job_id: int) -> None:
    from pricewatch.catalog import tasks

    transaction.on_commit(lambda: tasks.send_import_mail.delay(job_id))


def stored_digests(skus: list[str]) -> dict[str, str]:
    """{sku: content_hash} of existing products, for the parser's unchanged fast path."""
    found: dict[str, str] = {}
    for sku, digest in _select_by_sku(("sku", "content_hash"), skus):
        if digest:
            found[sku] = digest
    return found


def _select_by_sku(columns: Sequence[str], skus: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Plain-text columns of the products with these skus, in one raw query per BATCH.

    The ORM's ``sku__in`` prepares every value through the field (~10 us per sku); these are
    strings compared with strings, so the placeholders go straight to the driver.
    """
    ops = connection.ops
    names = ", ".join(ops.quote_name(column) for column in columns)
    table = ops.quote_name(Product._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(skus), BATCH):
            chunk = skus[start : start + BATCH]
            marks = ", ".join(["%s"] * len(chunk))
            # Identifiers come from the model; every value is a bound parameter.
            cursor.execute(
                f"SELECT {names} FROM {table} WHERE {ops.quote_name('sku')} IN ({marks})",  # noqa: S608
                chunk,
            )
            yield from cursor.fetchall()


def _stage(job: ImportJob, spool: _Spool, progress: ProgressCallback | None) -> int:
    processed = 0
    for batch in feeds.parse_feed_batches(job.path, known=stored_digests, batch_size=BATCH):
        for result in batch:
            if isinstance(result, feeds.FeedItem):
                spool.add(_row(result))
            elif isinstance(result, feeds.UnchangedItem):
                spool.add((UNCHANGED, result.line, result.sku, result.digest))
            else:
                spool.reject(result.line, (result.sku or "")[:100], result.reason)
        spool.flush()
        processed += len(batch)
        total = max(job.total or 0, processed)  # count_items is an estimate
        ImportJob.objects.filter(pk=job.pk).update(processed=processed, total=total)
        job.processed, job.total = processed, total
        if progress is not None:
            progress(processed, total)
    return processed


# Typed FeedItem attributes without a Product column: kept in `extra` when set.
_EXTRA_FIELDS = (
    "additional_image_links",
    "mobile_link",
    "sale_price_effective_date",
    "cost_of_goods_sold",
    "unit_pricing_measure",
    "availability_date",
    "identifier_exists",
    "adult",
    "is_bundle",
    "multipack",
    "size_type",
    "size_system",
    "material",
    "pattern",
    "item_group_id",
    "product_types",
    "excluded_destinations",
)


# One encoder for every item: json.dumps with non-default options builds a new one per call.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_extra_values = attrgetter(*_EXTRA_FIELDS)
_EMPTY = (None, "", ())
_SHIPPING_FIELDS = ("country", "region", "postal_code", "service")


def _extra(item: feeds.FeedItem) -> str:
    extra: dict[str, Any] = dict(item.extra)
    for name, value in zip(_EXTRA_FIELDS, _extra_values(item), strict=True):
        if value in _EMPTY:
            continue
        extra[name] = str(value) if isinstance(value, Decimal) else value
    if any(item.custom_labels):
        extra["custom_labels"] = list(item.custom_labels)
    if item.shipping:
        groups = []
        for ship in item.shipping:
            group: dict[str, Any] = {}
            for key, value in zip(
                _SHIPPING_FIELDS,
                (ship.country, ship.region, ship.postal_code, ship.service),
                strict=True,
            ):
                if value:
                    group[key] = value
            if ship.price is not None:
                group["price"] = str(ship.price)
            if ship.currency:
                group["currency"] = ship.currency
            for key, value in ship.extra.items():
                if value not in ("", None):
                    group[key] = value
            groups.append(group)
        extra["shipping"] = groups
    return _encode_json(extra) if extra else "{}"


# FeedItem attributes in spool-row order (FEED_COLUMNS but for the computed ones).
_row_values = attrgetter("line", "sku", "digest", *FEED_COLUMNS[: FEED_COLUMNS.index("link")])
_row_tail = attrgetter("availability", "quantity")


def _row(item: feeds.FeedItem) -> tuple[Any, ...]:
    sale = item.sale_price
    return (
        VALID,
        *_row_values(item),
        item.link or "",
        item.image_link or "",
        *_row_tail(item),
        str(item.price),
        None if sale is None else str(sale),
        item.currency,
        _extra(item),
    )


# --------------------------------------------------------------------------------------------
# Applying the staged rows (inside the job's transaction)
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Existing:
    id: int
    digest: str
    offer_id: int
    price: Decimal
    sale_price: Decimal | None
    currency: str
    availability: str


def _apply(job: ImportJob, spool: _Spool) -> _Counts:
    counts = _Counts()
    report = _Report(job.pk)
    for bucket in range(spool.buckets):
        rows = [row for rows in spool.read(bucket) for row in rows]
        winner = {row[2]: index for index, row in enumerate(rows)}
        batch: list[tuple[Any, ...]] = []
        for index, row in enumerate(rows):
            last = winner[row[2]]
            if last != index:
                counts.duplicate += 1
                report.add(
                    row[1],
                    row[2],
                    ImportItem.Outcome.DUPLICATE,
                    f"superseded by the item on line {rows[last][1]} with the same sku",
                )
                continue
            batch.append(row)
            if len(batch) >= BATCH:
                _apply_batch(batch, job.dry_run, counts, report)
                batch = []
        if batch:
            _apply_batch(batch, job.dry_run, counts, report)
        del rows, winner
    for rejected in spool.read("rejected"):
        for line, sku, reason in rejected:
            counts.rejected += 1
            report.add(line, sku, ImportItem.Outcome.REJECTED, reason)
    report.flush()
    return counts


def _apply_batch(
    batch: Sequence[tuple[Any, ...]], dry_run: bool, counts: _Counts, report: _Report
) -> None:
    existing = _existing(batch)
    created: list[tuple[Any, ...]] = []
    updated: list[tuple[_Existing, tuple[Any, ...]]] = []
    for row in batch:
        kind, line, sku, digest = row[:4]
        current = existing.get(sku)
        if kind == UNCHANGED:
            if current is None:
                # Deleted between staging and applying: its item was never converted.
                counts.rejected += 1
                report.add(
                    line,
                    sku,
                    ImportItem.Outcome.REJECTED,
                    "the product was deleted while the feed was importing; import it again",
                )
            else:
                counts.unchanged += 1
                report.add(line, sku, ImportItem.Outcome.UNCHANGED)
        elif current is None:
            created.append(row)
            counts.created += 1
            report.add(line, sku, ImportItem.Outcome.CREATED)
        elif current.digest == digest:
            counts.unchanged += 1
            report.add(line, sku, ImportItem.Outcome.UNCHANGED)
        else:
            updated.append((current, row))
            counts.updated += 1
            report.add(line, sku, ImportItem.Outcome.UPDATED)
    report.flush()
    if dry_run:
        return
    if created:
        _create(created)
    if updated:
        _update(updated)


def _existing(batch: Sequence[tuple[Any, ...]]) -> dict[str, _Existing]:
    """The batch's products that exist; prices only where an update may have to compare them.

    One raw query gets id and digest of every sku (all an unchanged or a new item needs);
    only products whose stored digest differs from a valid item's are read again through
    the ORM, for their typed price columns (the changed few of a re-import).
    """
    found: dict[str, _Existing] = {}
    digests = {row[2]: row[3] for row in batch if row[0] == VALID}
    stale: list[int] = []
    for sku, pk, digest, offer_id in _select_by_sku(
        ("sku", "id", "content_hash", "offer_id"), [row[2] for row in batch]
    ):
        found[sku] = _Existing(pk, digest, offer_id, Decimal(0), None, "", "")
        wanted = digests.get(sku)
        if wanted is not None and wanted != digest:
            stale.append(pk)
    for start in range(0, len(stale), BATCH):
        rows = Product.objects.filter(pk__in=stale[start : start + BATCH]).values_list(
            "sku", "price", "sale_price", "currency", "availability"
        )
        for sku, price, sale_price, currency, availability in rows:
            current = found[sku]
            current.price, current.sale_price = price, sale_price
            current.currency, current.availability = currency, availability
    return found


def _observation(row: tuple[Any, ...]) -> pricing.Observation:
    values = row[4:]
    sale = values[_SALE]
    return prices.observation_for(
        price=Decimal(values[_PRICE]),
        sale_price=None if sale is None else Decimal(sale),
        currency=values[_CURRENCY],
        availability=values[_AVAILABILITY],
        method="feed",
    )


def _create(rows: list[tuple[Any, ...]]) -> None:
    specs = [
        pricing.NewOffer(
            kind="catalog",
            title=row[4 + _TITLE],
            image_url=row[4 + _IMAGE],
            observation=_observation(row),
        )
        for row in rows
    ]
    offer_ids = pricing.create_offer_ids(specs)
    now = _db_now()
    columns = [
        "sku",
        *FEED_COLUMNS,
        "content_hash",
        "offer_id",
        "active",
        "created_at",
        "updated_at",
    ]
    values = [
        [row[2], *row[4:], row[3], offer_id, True, now, now]
        for row, offer_id in zip(rows, offer_ids, strict=True)
    ]
    _insert(Product, columns, values)


def _update(pairs: list[tuple[_Existing, tuple[Any, ...]]]) -> None:
    now = _db_now()
    columns = [*FEED_COLUMNS, "content_hash", "updated_at"]
    ops = connection.ops
    table = ops.quote_name(Product._meta.db_table)
    assignments = ", ".join(f"{ops.quote_name(column)} = %s" for column in columns)
    # Identifiers come from the model; every value is a bound parameter.
    sql = f"UPDATE {table} SET {assignments} WHERE id = %s"  # noqa: S608
    _executemany(sql, [[*row[4:], row[3], now, current.id] for current, row in pairs])
    observations = []
    for current, row in pairs:
        values = row[4:]
        sale = None if values[_SALE] is None else Decimal(values[_SALE])
        if (
            Decimal(values[_PRICE]) != current.price
            or sale != current.sale_price
            or values[_CURRENCY] != current.currency
            or values[_AVAILABILITY] != current.availability
        ):
            observations.append((current.offer_id, _observation(row)))
    if observations:
        pricing.record_prices(observations)


class _Report:
    """ImportItem rows, buffered and written with executemany."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.rows: list[tuple[int, int, str, str, str]] = []

    def add(self, line: int, sku: str, outcome: str, reason: str = "") -> None:
        self.rows.append((self.job_id, line, sku, outcome, reason))

    def flush(self) -> None:
        if self.rows:
            _insert(ImportItem, ("job_id", "line", "sku", "outcome", "reason"), self.rows)
            self.rows = []


def _insert(model: type[Any], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT many rows: COPY on PostgreSQL, executemany elsewhere (the price door's helper)."""
    pricing.bulk_insert(model, columns, rows)


def _insert_sql(columns: Sequence[str], model: type[Any] = Product) -> str:
    ops = connection.ops
    names = ", ".join(ops.quote_name(column) for column in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608


def _executemany(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[start : start + BATCH])


def _db_now() -> Any:
    return connection.ops.adapt_datetimefield_value(timezone.now())


# --------------------------------------------------------------------------------------------
# Reading jobs (the API and the CLI)
# --------------------------------------------------------------------------------------------


def first_rejections(job: ImportJob, limit: int = 20) -> list[ImportItem]:
    return list(
        job.items.filter(outcome=ImportItem.Outcome.REJECTED).order_by("line", "pk")[:limit]
    )


def summary(job: ImportJob) -> Mapping[str, int]:
    return {
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "rejected": job.rejected_count,
        "duplicate": job.duplicate_count,
    }


# --------------------------------------------------------------------------------------------
# The admins' mail
# --------------------------------------------------------------------------------------------

MAIL_REJECTIONS = 20


def notify_admins(job_id: int) -> int:
    """Mail a finished job's summary to every active staff user, once; returns mails sent.

    The job is claimed with a conditional update of `notified_at` before sending, so two
    workers (or a redelivered task) never both send. If sending fails the claim is released
    and `TemporaryFailure` raised, so the task's retry can send. A worker that dies between
    the claim and the SMTP answer leaves the job claimed: that mail is lost rather than
    possibly sent twice (at most once, as the issue asks "never twice").
    """
    from django.contrib.auth import get_user_model

    from pricewatch.core.errors import TemporaryFailure
    from pricewatch.core.mail import send_templated_mail

    claimed_at = timezone.now()
    finished = [ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED]
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=finished, notified_at__isnull=True
    ).update(notified_at=claimed_at)
    if not claimed:
        return 0
    job = ImportJob.objects.get(pk=job_id)
    recipients = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    failed = job.status == ImportJob.Status.FAILED
    context: dict[str, object] = {
        "job": job,
        "counts": summary(job),
        "rejections": [] if failed else first_rejections(job, MAIL_REJECTIONS),
        "more_rejections": max(0, job.rejected_count - MAIL_REJECTIONS),
        "url": f"{settings.SITE_URL}/api/v1/imports/{job.pk}",
    }
    template = "catalog/email/import_failed" if failed else "catalog/email/import_finished"
    try:
        return send_templated_mail(template=template, context=context, to=recipients)
    except (OSError, smtplib.SMTPException) as error:
        ImportJob.objects.filter(pk=job_id, notified_at=claimed_at).update(notified_at=None)
        raise TemporaryFailure(f"import mail for job {job_id} not sent: {error}") from error
