"""Product-feed imports: a feed item's way from the upload to the catalog and the job's report.

`start_import` stores the file and creates the `ImportJob`; `run_import` (a worker's task, or
the CLI in-process) then runs it in two phases:

1. **Stage**, outside any write transaction: the feed is streamed through the parser, which
   validates each item; items become named rows (`staging.StagedItem`) spooled to disk by sku
   bucket, and `processed` is committed as it moves. A malformed document fails the job here,
   before anything was written. A `Stager` does this: `SequentialStager` always can; a large
   feed may first be tried by `parallel.ParallelStager`, an accelerator that gives up (and
   leaves nothing behind) whenever it cannot give exactly the sequential result.
2. **Apply**, in one transaction: bucket by bucket, duplicate skus are resolved (the last item
   wins), each item's outcome is decided (`_outcome`: the one rule for created / updated /
   unchanged), new products get their offer and first price through the price door, changed
   ones are updated and their price recorded through it, and the report rows and the job's
   counts commit together with the products, or not at all.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final, NamedTuple, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pricewatch.catalog import feeds, parallel, prices, selectors, staging
from pricewatch.catalog.models import ImportItem, ImportJob, Product
from pricewatch.core import bulk
from pricewatch.core.errors import DomainError
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Offer

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
) -> ImportJob:
    """Store a feed and create its job (`tasks.run_import_task` or the CLI then runs it).

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

    def job_fields(self) -> dict[str, int]:
        """The job's columns for these counts (created_count, ...)."""
        return {f"{name}_count": getattr(self, name) for name in _COUNTED}


_COUNTED: Final = tuple(field.name for field in fields(_Counts))


def run_import(
    job_id: int,
    *,
    progress: ProgressCallback | None = None,
    on_finished: Callable[[int], object] | None = None,
) -> ImportJob:
    """Run one import job to its end (succeeded or failed); idempotent for finished jobs.

    `on_finished` gets the job's id after the commit that finished it (the admins' mail).
    """
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
    # In IMPORT_DIR, not next to the feed: a CLI import's folder may be read-only.
    spool = staging.Spool(Path(settings.IMPORT_DIR) / f"job-{job_id}")
    try:
        try:
            processed = _stage(job, spool, _JobProgress(job, spool, progress))
        except feeds.FeedError as error:
            return _fail(job, error.message, error.line, error.column, on_finished)
        except OSError as error:
            message = f"The feed file could not be read: {error.strerror or error}"
            return _fail(job, message, on_finished=on_finished)
        with transaction.atomic():
            counts = _apply(job, spool)
            ImportJob.objects.filter(pk=job_id).update(
                status=ImportJob.Status.SUCCEEDED,
                finished_at=timezone.now(),
                processed=processed,
                total=processed,
                **counts.job_fields(),
            )
            if on_finished is not None:
                transaction.on_commit(lambda: on_finished(job_id))
            if not job.dry_run and (counts.created or counts.updated):
                # Cached facet counts and list totals would lag behind the catalog otherwise.
                transaction.on_commit(selectors.forget_cached_facets)
            if not job.dry_run and counts.created + counts.updated >= ANALYZE_AFTER:
                transaction.on_commit(_refresh_statistics)
    except Exception:
        logger.exception("import %s crashed", job_id)
        _fail(job, "The import failed unexpectedly; see the server log.", on_finished=on_finished)
        raise
    finally:
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
    job: ImportJob,
    message: str,
    line: int | None = None,
    column: int | None = None,
    on_finished: Callable[[int], object] | None = None,
) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED,
        finished_at=timezone.now(),
        error=message,
        error_line=line,
        error_column=column,
        **_Counts().job_fields(),
    )
    if on_finished is not None:
        job_id = job.pk
        transaction.on_commit(lambda: on_finished(job_id))
    job.refresh_from_db()
    logger.info("import %s failed: %s (line %s, column %s)", job.pk, message, line, column)
    return job


def _refresh_statistics() -> None:
    """Renew the statistics of the columns the next import's lookups and the catalog's
    filters use. (Not the full-text expression index: analysing it re-runs to_tsvector over
    a sample of 30,000 rows.)"""
    columns = ("sku", "raw_hash", "brand", "category", "gender", "condition", "color", "size")
    bulk.refresh_statistics({Product: (*columns, "active", "created_at", "updated_at")})


# --------------------------------------------------------------------------------------------
# Staging: stream, validate, spool
# --------------------------------------------------------------------------------------------


class Stager(Protocol):
    def stage(self, spool: staging.Spool, progress: staging.StagingProgress) -> int | None:
        """Stage the feed into `spool`; returns the number of items, or None when this stager
        gave up (leaving nothing behind)."""


@dataclass(frozen=True, slots=True)
class SequentialStager:
    """The plain path: the whole feed through the parser, in this process."""

    path: str

    def stage(self, spool: staging.Spool, progress: staging.StagingProgress) -> int:
        spool.buckets = progress.counted(feeds.count_items(self.path))
        processed = 0
        with spool.writer() as writer:
            # Items whose digest the catalog holds come back unconverted (`UnchangedItem`).
            batches = feeds.parse_feed_batches(
                self.path, known=staging.stored_digests, batch_size=BATCH
            )
            for batch in batches:
                writer.add_results(batch)
                processed += len(batch)
                progress.staged(processed)
        return processed


def _stage(job: ImportJob, spool: staging.Spool, progress: _JobProgress) -> int:
    """Stage with the fastest stager that can, falling back to the sequential one."""
    stagers: list[Stager] = [SequentialStager(job.path)]
    accelerated = parallel.ParallelStager.for_feed(
        job.path,
        workers=int(settings.IMPORT_WORKERS),
        min_bytes=int(settings.IMPORT_PARALLEL_MIN_BYTES),
        batch=BATCH,
    )
    if accelerated is not None:
        stagers.insert(0, accelerated)
    for stager in stagers:
        processed = stager.stage(spool, progress)
        if processed is not None:
            progress.staged(processed, final=True)
            return processed
    raise AssertionError("the sequential stager never gives up")


@dataclass(slots=True)
class _JobProgress:
    """Staging progress on the job, committed at most every PROGRESS_SECONDS (each write is a
    commit: after every batch, a re-import spent a tenth of its time on them), and at the end."""

    job: ImportJob
    spool: staging.Spool
    callback: ProgressCallback | None
    written_at: float = -math.inf
    written: int = -1

    def counted(self, total: int) -> int:
        # (A stager that starts over after another gave up starts from 0 again.)
        ImportJob.objects.filter(pk=self.job.pk).update(total=total, processed=0)
        self.job.total, self.job.processed = total, 0
        self.written_at, self.written = -math.inf, 0
        if self.callback is not None:
            self.callback(0, total)
        return max(1, -(-total // BUCKET_ITEMS))

    def staged(self, processed: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if final and processed == self.written:
            return
        if not final and now - self.written_at < PROGRESS_SECONDS:
            return
        self.written_at, self.written = now, processed
        total = max(self.job.total or 0, processed)  # count_items is an estimate
        ImportJob.objects.filter(pk=self.job.pk).update(processed=processed, total=total)
        self.job.processed, self.job.total = processed, total
        if self.callback is not None:
            self.callback(processed, total)


# --------------------------------------------------------------------------------------------
# Applying the staged items (inside the job's transaction)
# --------------------------------------------------------------------------------------------


class _Stored(NamedTuple):
    """What the catalog holds for a sku."""

    id: int
    content_hash: str
    raw_hash: str
    offer_id: int


CREATED, UPDATED, UNCHANGED = (
    ImportItem.Outcome.CREATED,
    ImportItem.Outcome.UPDATED,
    ImportItem.Outcome.UNCHANGED,
)
DELETED_MEANWHILE = "the product was deleted while the feed was importing; import it again"


def _outcome(item: staging.StagedItem, stored: _Stored | None, named_sku: str | None) -> str:
    """The one rule: an item is unchanged when the catalog holds its content digest.

    A stager leaves an item unconverted only when the catalog held it at staging time: by its
    digest (`stored` is then what the catalog holds for its sku), or by its bytes for the
    product `product_id` (`named_sku` is then that product's sku now). If that product has gone
    since, the item cannot be created (it was never converted) and is rejected instead.
    """
    if item.product_id is not None:
        return UNCHANGED if named_sku == item.sku else ImportItem.Outcome.REJECTED
    if not item.converted:
        return ImportItem.Outcome.REJECTED if stored is None else UNCHANGED
    if stored is None:
        return CREATED
    return UNCHANGED if item.digest == stored.content_hash else UPDATED


def _apply(job: ImportJob, spool: staging.Spool) -> _Counts:
    counts = _Counts()
    report = _Report(job.pk)
    for bucket in range(spool.buckets):
        items = spool.items(bucket)
        winner = {item.sku: index for index, item in enumerate(items)}
        batch: list[staging.StagedItem] = []
        for index, item in enumerate(items):
            last = winner[item.sku]
            if last != index:
                counts.duplicate += 1
                reason = f"superseded by the item on line {items[last].line} with the same sku"
                report.add(item.line, item.sku, ImportItem.Outcome.DUPLICATE, reason)
                continue
            batch.append(item)
            if len(batch) >= BATCH:
                _apply_batch(batch, job.dry_run, counts, report)
                batch = []
        if batch:
            _apply_batch(batch, job.dry_run, counts, report)
        del items, winner
    for rejected in spool.rejections():
        counts.rejected += 1
        report.add(rejected.line, rejected.sku, ImportItem.Outcome.REJECTED, rejected.reason)
    report.flush()
    return counts


def _apply_batch(
    batch: Sequence[staging.StagedItem], dry_run: bool, counts: _Counts, report: _Report
) -> None:
    stored = _stored([item.sku for item in batch if item.product_id is None])
    named = _skus_now([item.product_id for item in batch if item.product_id is not None])
    created: list[staging.StagedItem] = []
    updated: list[tuple[_Stored, staging.StagedItem]] = []
    # Unchanged products whose item came in bytes new to them (first staged from its bytes, or
    # the same item laid out anew): the bytes are stored, so that the next import skips their
    # parsing. Only where the stored content digest still vouches for the product: one edited
    # through the API since staging has none, and must not be taken for its item again.
    learned: list[tuple[str, int]] = []
    for item in batch:
        current = stored.get(item.sku)
        named_sku = None if item.product_id is None else named.get(item.product_id)
        outcome = _outcome(item, current, named_sku)
        if outcome == CREATED:
            counts.created += 1
            created.append(item)
        elif outcome == UPDATED:
            assert current is not None
            counts.updated += 1
            updated.append((current, item))
        elif outcome == UNCHANGED:
            counts.unchanged += 1
            if (
                current is not None
                and item.raw_digest
                and current.raw_hash != item.raw_digest
                and item.digest
                and item.digest == current.content_hash
            ):
                learned.append((item.raw_digest, current.id))
        else:
            counts.rejected += 1
            report.add(item.line, item.sku, outcome, DELETED_MEANWHILE)
            continue
        report.add(item.line, item.sku, outcome)
    report.flush()
    if dry_run:
        return
    if created:
        _create(created)
    if updated:
        _update(updated)
    bulk.update_by_id(Product, ["raw_hash"], learned)


def _stored(skus: list[str]) -> dict[str, _Stored]:
    """What the catalog holds for these skus, in one raw query per chunk (plain strings
    compared with strings: the ORM's ``sku__in`` would prepare every value through the field)."""
    columns = ("sku", "id", "content_hash", "raw_hash", "offer_id")
    names = ", ".join(bulk.quote(column) for column in columns)
    select = f"SELECT {names} FROM {bulk.table(Product)} WHERE"  # noqa: S608
    return {
        sku: _Stored(pk, content_hash, raw_hash, offer_id)
        for sku, pk, content_hash, raw_hash, offer_id in bulk.select_in(
            select, bulk.quote("sku"), skus
        )
    }


def _skus_now(ids: list[int]) -> dict[int, str]:
    """The skus of these products now (by primary key: what the sku index alone answers)."""
    columns = f"{bulk.quote('id')}, {bulk.quote('sku')}"
    select = f"SELECT {columns} FROM {bulk.table(Product)} WHERE"  # noqa: S608
    return dict(bulk.select_in(select, bulk.quote("id"), ids))


def _observation(item: staging.StagedItem) -> pricing.Observation:
    return prices.observation_for(
        price=Decimal(item.price),
        sale_price=None if item.sale_price is None else Decimal(item.sale_price),
        currency=item.currency,
        availability=item.availability,
        method="feed",
    )


def _create(items: list[staging.StagedItem]) -> None:
    offers = [
        pricing.NewOffer(
            kind="catalog",
            title=item.title,
            image_url=item.image_link,
            observation=_observation(item),
        )
        for item in items
    ]
    offer_ids = pricing.create_offer_ids(offers)
    now = bulk.db_now()
    columns = ["sku", *staging.PRODUCT_COLUMNS, "content_hash", "raw_hash"]
    columns += ["offer_id", "active", "created_at", "updated_at"]
    rows = [
        [item.sku, *item.product_values(), item.digest, item.raw_digest, offer_id, True, now, now]
        for item, offer_id in zip(items, offer_ids, strict=True)
    ]
    bulk.insert(Product, columns, rows)


def _update(pairs: list[tuple[_Stored, staging.StagedItem]]) -> None:
    now = bulk.db_now()
    rows = []
    observations = []
    for current, item in pairs:
        rows.append([*item.product_values(), item.digest, item.raw_digest, now, current.id])
        observations.append((current.offer_id, _observation(item)))
    bulk.update_by_id(
        Product, [*staging.PRODUCT_COLUMNS, "content_hash", "raw_hash", "updated_at"], rows
    )
    moved = _moved(observations)
    if moved:
        pricing.record_prices(moved)


def _moved(
    observations: list[tuple[int, pricing.Observation]],
) -> list[tuple[int, pricing.Observation]]:
    """The observations that differ from what their offer shows: a changed description alone
    records no price point."""
    shown: dict[int, tuple[Any, ...]] = {}
    for chunk in bulk.chunks([offer_id for offer_id, _ in observations]):
        rows = Offer.objects.filter(pk__in=chunk).values_list(
            "pk", "price", "regular_price", "currency", "availability"
        )
        shown.update((pk, tuple(state)) for pk, *state in rows)
    return [
        (offer_id, seen)
        for offer_id, seen in observations
        if shown.get(offer_id) != (seen.price, seen.regular_price, seen.currency, seen.availability)
    ]


class _Report:
    """ImportItem rows, buffered and written in bulk."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.rows: list[tuple[int, int, str, str, str]] = []

    def add(self, line: int, sku: str, outcome: str, reason: str = "") -> None:
        self.rows.append((self.job_id, line, sku, outcome, reason))

    def flush(self) -> None:
        bulk.insert(ImportItem, ("job_id", "line", "sku", "outcome", "reason"), self.rows)
        self.rows = []


# --------------------------------------------------------------------------------------------
# Reading jobs (the API and the CLI)
# --------------------------------------------------------------------------------------------


def first_rejections(job: ImportJob, limit: int = 20) -> list[ImportItem]:
    return list(
        job.items.filter(outcome=ImportItem.Outcome.REJECTED).order_by("line", "pk")[:limit]
    )


def summary(job: ImportJob) -> Mapping[str, int]:
    return {name: getattr(job, f"{name}_count") for name in _COUNTED}
