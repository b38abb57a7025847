"""Product-feed imports: store the upload, then parse, validate and upsert products by sku.

`start_import` stores the file and creates the `ImportJob`; `run_import` (the worker side, or
the CLI in-process) does the work in two phases:

1. **Stage.** The feed is streamed through `feeds.parse_feed_batches`, outside any write
   transaction. Items whose XML digest equals the product's stored `content_hash` come back
   as `UnchangedItem` without being validated again (the re-import fast path). Valid items
   become compact rows (`staging.row`) pickled to spool files in `IMPORT_DIR`, partitioned
   by sku into buckets of at most `BUCKET_ITEMS` items; `processed` is committed after every
   batch, so `GET /api/v1/imports/{id}` shows it moving. A malformed document fails the job
   here, before anything was written: the catalog is untouched.
   A UTF-8 feed of at least `IMPORT_PARALLEL_MIN_BYTES` is staged by `IMPORT_WORKERS`
   processes at once, each parsing a byte range cut at an item start tag into its own spool
   files, looking up stored digests over its own read-only connection (see `staging`). If
   any part fails for any reason (a cut that was no item boundary, a malformed document...)
   the attempt is discarded and the file is staged again in this process, so errors, line
   numbers and results are always those of the sequential path. A worker first tries its
   part by raw spans (`staging.RawStager`): items whose bytes match a product's stored
   `raw_hash` are unchanged without being parsed at all.
2. **Apply.** One transaction: each bucket is read back (part after part: in file order),
   duplicate skus are resolved (the last item wins, earlier ones are reported as
   superseded), and the winners are applied in batches of `BATCH`: new products get an
   offer with their first price point through `pricing.services.create_offer_ids`; changed
   ones are updated with one executemany and their price recorded through
   `pricing.services.record_prices` only when price, sale price, currency or availability
   changed; unchanged ones are counted and not written (but for a raw digest they did not
   have yet). The report rows and the final counts commit together with the products, or
   not at all; a large import then renews the catalog's column statistics.

Memory stays bounded by one bucket (plus one parse batch, per staging worker) whatever the
size of the file; the spool costs one sequential write and read of compact rows, far
cheaper than holding a write transaction (SQLite's single writer lock) for the whole parse.
"""

from __future__ import annotations

import logging
import math
import os
import smtplib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from pricewatch.catalog import feeds, prices, selectors, staging
from pricewatch.catalog.models import ImportItem, ImportJob, Product
from pricewatch.core import bulk
from pricewatch.core.errors import DomainError
from pricewatch.pricing import services as pricing

logger = logging.getLogger(__name__)

# Items per parse batch, per digest lookup and per write batch.
BATCH = 2000
# Staging progress is committed at most this often (and at the end of staging).
PROGRESS_SECONDS = 0.25
# An import that created or changed at least this many products renews their statistics.
ANALYZE_AFTER = 10_000
# At most this many items per spool bucket: what the apply phase holds in memory at once.
BUCKET_ITEMS = 25_000
# A job "running" for longer than this without finishing is taken to be lost (its worker
# died) and may be claimed again.
STALE_AFTER = timedelta(hours=1)
COPY_CHUNK = 1024 * 1024
ProgressCallback = Callable[[int, int | None], None]

# Product columns written from a feed item, in spool-row order (after kind, line, sku, digest).
FEED_COLUMNS = staging.FEED_COLUMNS
_PRICE, _SALE, _CURRENCY, _AVAILABILITY = (
    FEED_COLUMNS.index(name) for name in ("price", "sale_price", "currency", "availability")
)
_TITLE, _IMAGE = FEED_COLUMNS.index("title"), FEED_COLUMNS.index("image_link")
# Spool row kinds: see staging.
VALID, UNCHANGED = staging.VALID, staging.UNCHANGED


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
    spool: staging.Spool | None = None
    try:
        try:
            # In IMPORT_DIR, not next to the feed: a CLI import's folder may be read-only.
            spool = staging.Spool(Path(settings.IMPORT_DIR) / f"job-{job_id}", buckets=0)
            processed = None
            split = _plan(job)
            if split is not None:
                processed = _stage_parallel(job, spool, split, progress)
            if processed is None:
                if not spool.buckets:
                    _counted(job, spool, feeds.count_items(job.path), progress)
                processed = _stage(job, spool, progress)
        except feeds.FeedError as error:
            return _fail(job, error.message, error.line, error.column)
        except OSError as error:
            return _fail(job, f"The feed file could not be read: {error.strerror or error}")
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
            if not job.dry_run and counts.created + counts.updated >= ANALYZE_AFTER:
                transaction.on_commit(_refresh_statistics)
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


# Columns whose statistics a large import renews: the next import's lookups by sku and raw
# digest, and the catalog's filters. (The full-text expression index is left out: analysing
# it re-runs to_tsvector over a 30,000-row sample, 1.8 s per 100,000 products.)
_ANALYZED = {
    Product: (
        "sku",
        "raw_hash",
        "brand",
        "category",
        "availability",
        "gender",
        "condition",
        "color",
        "size",
        "active",
        "created_at",
        "updated_at",
    ),
}


def _refresh_statistics() -> None:
    """ANALYZE what a large import changed, on PostgreSQL (~0.25 s per 100,000 products).

    Autovacuum analyses a table some time after a bulk load, if it runs at all; until then
    the planner guesses, and chose a sequential scan over 100,000 products for every batch
    of the next import's raw-digest lookups.
    """
    if connection.vendor != "postgresql":
        return
    ops = connection.ops
    with connection.cursor() as cursor:
        for model, columns in _ANALYZED.items():
            names = ", ".join(ops.quote_name(column) for column in columns)
            # Identifiers come from the model.
            cursor.execute(f"ANALYZE {ops.quote_name(model._meta.db_table)} ({names})")


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
    # Identifiers come from the model; every value is a bound parameter.
    yield from _select_in(f"SELECT {names} FROM {table} WHERE {ops.quote_name('sku')}", skus)  # noqa: S608


def _select_in(select: str, values: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    """Rows of `select` (ending in the column to match) for `values`, one query per BATCH."""
    with connection.cursor() as cursor:
        for start in range(0, len(values), BATCH):
            chunk = list(values[start : start + BATCH])
            if connection.vendor == "postgresql":
                # One array parameter: psycopg splits a query with 2,000 placeholders in
                # Python on every call (~12 ms), and the server plans one short statement.
                cursor.execute(f"{select} = ANY(%s)", [chunk])
            else:
                cursor.execute(f"{select} IN ({', '.join(['%s'] * len(chunk))})", chunk)
            yield from cursor.fetchall()


def _stage(job: ImportJob, spool: staging.Spool, progress: ProgressCallback | None) -> int:
    """Stage the whole file in this process."""
    writer = staging.SpoolWriter(spool.base, spool.buckets)
    writer.open()
    processed = 0
    report = _Progress(job, progress)
    try:
        for batch in feeds.parse_feed_batches(job.path, known=stored_digests, batch_size=BATCH):
            staging.stage_results(batch, writer)
            processed += len(batch)
            report(processed)
    finally:
        writer.close()
    report(processed, final=True)
    return processed


@dataclass(slots=True)
class _Progress:
    """Staging progress, committed at most every PROGRESS_SECONDS (each write is a commit:
    after every batch, a re-import spent a tenth of its time on them), and at the end."""

    job: ImportJob
    callback: ProgressCallback | None
    written_at: float = -math.inf
    written: int = -1

    def __call__(self, processed: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if final and processed == self.written:
            return
        if not final and now - self.written_at < PROGRESS_SECONDS:
            return
        self.written_at, self.written = now, processed
        _progress(self.job, processed, self.callback)


def _progress(job: ImportJob, processed: int, progress: ProgressCallback | None) -> None:
    total = max(job.total or 0, processed)  # count_items is an estimate
    ImportJob.objects.filter(pk=job.pk).update(processed=processed, total=total)
    job.processed, job.total = processed, total
    if progress is not None:
        progress(processed, total)


def _plan(job: ImportJob) -> staging.Plan | None:
    """Where to cut the feed for parallel staging; None to stage it in this process."""
    workers = int(settings.IMPORT_WORKERS)
    if workers < 2:
        return None
    try:
        if os.path.getsize(job.path) < int(settings.IMPORT_PARALLEL_MIN_BYTES):
            return None
        return staging.plan(job.path, workers)
    except OSError:
        return None  # the sequential path reports it


def _counted(
    job: ImportJob, spool: staging.Spool, total: int, progress: ProgressCallback | None
) -> int:
    """The item count is known: store it, size the spool; returns the number of buckets."""
    ImportJob.objects.filter(pk=job.pk).update(total=total)
    job.total = total
    if progress is not None:
        progress(0, total)
    spool.base.parent.mkdir(parents=True, exist_ok=True)
    spool.buckets = max(1, -(-total // BUCKET_ITEMS))
    return spool.buckets


def _stage_parallel(
    job: ImportJob, spool: staging.Spool, split: staging.Plan, progress: ProgressCallback | None
) -> int | None:
    """Stage the parts in worker processes; None (nothing left behind) if any part failed.

    The workers count the items of their parts first (the total, and the spool's size).
    Any failure, a malformed document included, is left to the sequential path, so its
    error message, line and column are the ones it has always reported.
    """
    spool.parts = len(split.splits) + 1
    report = _Progress(job, progress)
    try:
        processed = staging.run_workers(
            split,
            base=spool.base,
            batch=BATCH,
            database=_worker_database(),
            counted=lambda total: _counted(job, spool, total, progress),
            progress=report,
        )
        report(processed, final=True)
        return processed
    except (staging.WorkersFailed, OSError) as error:
        logger.info("import %s: staging in one process (parallel: %s)", job.pk, error)
        spool.remove()
        spool.parts = 1
        if spool.buckets:
            # The sequential path starts counting again.
            ImportJob.objects.filter(pk=job.pk).update(processed=0)
            job.processed = 0
            if progress is not None:
                progress(0, job.total)
        return None


# libpq connection options a worker's own connection takes over from OPTIONS.
_LIBPQ_OPTIONS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "passfile",
    "service",
    "options",
    "connect_timeout",
    "target_session_attrs",
)


def _worker_database() -> dict[str, Any] | None:
    """How a staging worker reads stored digests, or None (it then converts every item).

    Another connection sees only committed rows: inside an atomic block (a caller's
    transaction, or a test's) the workers go without; the apply phase still finds the
    unchanged items by digest, so only speed differs.
    """
    if connection.in_atomic_block:
        return None
    ops = connection.ops
    names = {
        "table": ops.quote_name(Product._meta.db_table),
        "sku": ops.quote_name("sku"),
        "digest": ops.quote_name("content_hash"),
        "raw": ops.quote_name("raw_hash"),
    }
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        if cast(Any, connection).is_in_memory_db():
            return None
        return {"vendor": "sqlite", "name": str(config["NAME"]), **names}
    if connection.vendor == "postgresql":
        params: dict[str, Any] = {
            key: config[name]
            for key, name in (
                ("dbname", "NAME"),
                ("user", "USER"),
                ("password", "PASSWORD"),
                ("host", "HOST"),
                ("port", "PORT"),
            )
            if config.get(name)
        }
        options = config.get("OPTIONS") or {}
        for key in _LIBPQ_OPTIONS:
            if isinstance(options.get(key), str | int):
                params[key] = options[key]
        return {"vendor": "postgresql", "params": params, **names}
    return None


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


def _apply(job: ImportJob, spool: staging.Spool) -> _Counts:
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
    # Items recognised by their bytes came with their product's id: whether it still exists
    # under that sku is one look at the primary key. The others are read by sku.
    still = _still_there(batch)
    stored, changed, raws = _existing([row for row in batch if row[2] not in still])
    stored.update(dict.fromkeys(still, ""))
    created: list[tuple[Any, ...]] = []
    updated: list[tuple[_Existing, tuple[Any, ...]]] = []
    # Unchanged products whose item's raw digest is new to them (first staged by raw spans,
    # or the same item in other bytes): stored, so that the next import skips its parsing.
    # Only where the stored parsed digest still vouches for the product: one edited through
    # the API since staging has none, and must not be taken for its item again.
    learned: list[tuple[str, int]] = []
    for row in batch:
        kind, line, sku, digest = row[:4]
        raw = row[-1]
        if digest and raw and stored.get(sku) == digest and sku in raws and raws[sku][1] != raw:
            learned.append((raw, raws[sku][0]))
        if kind == UNCHANGED:
            if sku not in stored:
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
        elif sku not in stored:
            created.append(row)
            counts.created += 1
            report.add(line, sku, ImportItem.Outcome.CREATED)
        elif stored[sku] == digest:
            counts.unchanged += 1
            report.add(line, sku, ImportItem.Outcome.UNCHANGED)
        else:
            updated.append((changed[sku], row))
            counts.updated += 1
            report.add(line, sku, ImportItem.Outcome.UPDATED)
    report.flush()
    if dry_run:
        return
    if created:
        _create(created)
    if updated:
        _update(updated)
    if learned:
        ops = connection.ops
        # Identifiers come from the model; every value is a bound parameter.
        table, column = ops.quote_name(Product._meta.db_table), ops.quote_name("raw_hash")
        _executemany(f"UPDATE {table} SET {column} = %s WHERE id = %s", learned)  # noqa: S608


def _still_there(batch: Sequence[tuple[Any, ...]]) -> set[str]:
    """Skus of the rows recognised by their raw digest whose product still exists with the
    id and sku it had when the part was staged."""
    expected = {row[4]: row[2] for row in batch if row[0] == UNCHANGED and row[4] is not None}
    if not expected:
        return set()
    # Identifiers come from the model; the ids are bound parameters.
    select = f"SELECT id, sku FROM {connection.ops.quote_name(Product._meta.db_table)} WHERE id"  # noqa: S608
    return {sku for pk, sku in _select_in(select, list(expected)) if expected[pk] == sku}


def _existing(
    batch: Sequence[tuple[Any, ...]],
) -> tuple[dict[str, str | None], dict[str, _Existing], dict[str, tuple[int, str]]]:
    """({sku: stored digest} of the batch's products that exist, {sku: _Existing} of those
    a valid item may change, with their prices, {sku: (id, stored raw digest)}).

    One raw query gets the digest of every sku (all an unchanged or a new item needs);
    only products whose stored digest differs from a valid item's are read again through
    the ORM, for their typed price columns (the changed few of a re-import).
    """
    stored: dict[str, str | None] = {}
    changed: dict[str, _Existing] = {}
    digests = {row[2]: row[3] for row in batch if row[0] == VALID}
    raws: dict[str, tuple[int, str]] = {}
    stale: list[int] = []
    for sku, pk, digest, offer_id, raw in _select_by_sku(
        ("sku", "id", "content_hash", "offer_id", "raw_hash"), [row[2] for row in batch]
    ):
        stored[sku] = digest
        raws[sku] = (pk, raw)
        wanted = digests.get(sku)
        if wanted is not None and wanted != digest:
            changed[sku] = _Existing(pk, digest, offer_id, Decimal(0), None, "", "")
            stale.append(pk)
    for start in range(0, len(stale), BATCH):
        rows = Product.objects.filter(pk__in=stale[start : start + BATCH]).values_list(
            "sku", "price", "sale_price", "currency", "availability"
        )
        for sku, price, sale_price, currency, availability in rows:
            current = changed[sku]
            current.price, current.sale_price = price, sale_price
            current.currency, current.availability = currency, availability
    return stored, changed, raws


def _observation(row: tuple[Any, ...]) -> pricing.Observation:
    values = row[4:-1]
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
        "raw_hash",
        "offer_id",
        "active",
        "created_at",
        "updated_at",
    ]
    values = [
        [row[2], *row[4:-1], row[3], row[-1], offer_id, True, now, now]
        for row, offer_id in zip(rows, offer_ids, strict=True)
    ]
    _insert(Product, columns, values)


def _update(pairs: list[tuple[_Existing, tuple[Any, ...]]]) -> None:
    now = _db_now()
    columns = [*FEED_COLUMNS, "content_hash", "raw_hash", "updated_at"]
    ops = connection.ops
    table = ops.quote_name(Product._meta.db_table)
    assignments = ", ".join(f"{ops.quote_name(column)} = %s" for column in columns)
    # Identifiers come from the model; every value is a bound parameter.
    sql = f"UPDATE {table} SET {assignments} WHERE id = %s"  # noqa: S608
    _executemany(sql, [[*row[4:-1], row[3], row[-1], now, current.id] for current, row in pairs])
    observations = []
    for current, row in pairs:
        values = row[4:-1]
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
    bulk.insert(model, columns, rows)


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
