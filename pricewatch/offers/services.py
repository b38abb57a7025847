"""Registration outbox and polling; every offer price goes through `pricing.services`.

One dispatcher tick: create registration rows for products that lack one (an anti-join, so the
product write never waits on us), register those due, then claim due registered products, fetch
their offers concurrently and reconcile each product in its own transaction. A product whose
fetch fails keeps its offers as they were, gets `poll_error` and is retried next period.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from pricewatch.catalog.models import Product
from pricewatch.offers import client as offers_client
from pricewatch.offers.models import Registration, ServiceOffer
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Availability, Offer

logger = logging.getLogger(__name__)

CONCURRENCY = 50
MAX_BACKOFF_SECONDS = 3600
LEASE_SECONDS = 120
MAX_PER_TICK = 20_000

T = TypeVar("T")


def _skip_locked() -> bool:
    return bool(connection.features.has_select_for_update_skip_locked)


def queue_missing_registrations() -> int:
    """Give every product without a registration row a pending one; returns how many."""
    missing = list(
        Product.objects.filter(offers_registration__isnull=True).values_list("pk", flat=True)
    )
    now = timezone.now()
    Registration.objects.bulk_create(
        [Registration(product_id=pk, next_attempt_at=now) for pk in missing],
        ignore_conflicts=True,
    )
    return len(missing)


def requeue(*, product_ids: Sequence[int] | None = None) -> int:
    """Queue registration again (admin action, `pricewatch offers register --all`)."""
    queue_missing_registrations()
    rows = Registration.objects.all()
    if product_ids is not None:
        rows = rows.filter(product_id__in=product_ids)
    return rows.update(status=Registration.Status.PENDING, next_attempt_at=timezone.now())


def _claim(query: Any, now: datetime, limit: int) -> list[Registration]:
    """Lease due rows; the lease condition is repeated in the UPDATE so two ticks never share."""
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    lease = now + timedelta(seconds=LEASE_SECONDS)
    with transaction.atomic():
        query = query.filter(free)
        if _skip_locked():
            query = query.select_for_update(skip_locked=True)
        ids = list(query.values_list("pk", flat=True)[:limit])
        Registration.objects.filter(free, pk__in=ids).update(leased_until=lease)
    return list(
        Registration.objects.filter(pk__in=ids, leased_until=lease).select_related("product")
    )


async def _gather(
    items: Sequence[Registration],
    call: Callable[[offers_client.Client, Registration], Awaitable[T]],
) -> list[T | offers_client.OffersError]:
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with offers_client.Client() as api:

        async def one(registration: Registration) -> T | offers_client.OffersError:
            async with semaphore:
                try:
                    return await call(api, registration)
                except offers_client.OffersError as error:
                    return error

        return await asyncio.gather(*(one(item) for item in items))


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, 30 * 2 ** min(attempts, 10)))


def register_due(*, now: datetime | None = None, limit: int = MAX_PER_TICK) -> dict[str, int]:
    now = now or timezone.now()
    due = Registration.objects.filter(
        status__in=[Registration.Status.PENDING, Registration.Status.FAILED],
        next_attempt_at__lte=now,
    ).order_by("next_attempt_at")
    rows = _claim(due, now, limit)
    if not rows:
        return {"registered": 0, "failed": 0}

    async def call(api: offers_client.Client, row: Registration) -> None:
        await api.register(row.uuid, row.product.title, row.product.description)

    results = asyncio.run(_gather(rows, call))
    done = failed = 0
    for row, result in zip(rows, results, strict=True):
        row.attempts += 1
        row.leased_until = None
        if isinstance(result, offers_client.OffersError):
            failed += 1
            row.status = Registration.Status.FAILED
            row.last_error = str(result)
            row.next_attempt_at = (
                now + _backoff(row.attempts) if result.retry else now + timedelta(days=1)
            )
            logger.warning("offers: registering product %s failed: %s", row.product_id, result)
        else:
            done += 1
            row.status = Registration.Status.REGISTERED
            row.last_error = ""
            row.registered_at = now
            row.next_attempt_at = None
            row.next_poll_at = now
        row.save(
            update_fields=[
                "attempts",
                "leased_until",
                "status",
                "last_error",
                "next_attempt_at",
                "registered_at",
                "next_poll_at",
            ]
        )
    return {"registered": done, "failed": failed}


def poll_due(*, now: datetime | None = None, limit: int = MAX_PER_TICK) -> dict[str, int]:
    now = now or timezone.now()
    due = Registration.objects.filter(
        status=Registration.Status.REGISTERED, next_poll_at__lte=now
    ).order_by("next_poll_at")
    rows = _claim(due, now, limit)
    if not rows:
        return {"polled": 0, "failed": 0}

    async def call(
        api: offers_client.Client, row: Registration
    ) -> list[offers_client.ServiceOfferData]:
        return await api.offers(row.uuid)

    results = asyncio.run(_gather(rows, call))
    period = timedelta(seconds=settings.OFFERS_POLL_SECONDS)
    polled = failed = 0
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, offers_client.OffersError):
            failed += 1
            logger.warning("offers: polling product %s failed: %s", row.product_id, result)
            Registration.objects.filter(pk=row.pk).update(
                poll_error=str(result), leased_until=None, next_poll_at=now + period
            )
            continue
        observed_at = timezone.now()
        try:
            reconcile(row, result, observed_at=observed_at)
        except Exception as error:  # one product's surprise must not stop the others
            failed += 1
            logger.exception("offers: recording product %s failed", row.product_id)
            Registration.objects.filter(pk=row.pk).update(
                poll_error=f"Recording failed: {error}",
                leased_until=None,
                next_poll_at=now + period,
            )
            continue
        polled += 1
    return {"polled": polled, "failed": failed}


def _observation(item: offers_client.ServiceOfferData, at: datetime) -> pricing.Observation:
    return pricing.Observation(
        price=Decimal(item.price),
        currency=settings.OFFERS_CURRENCY,
        method="offers-service",
        availability=Availability.IN_STOCK
        if item.items_in_stock > 0
        else Availability.OUT_OF_STOCK,
        observed_at=at,
    )


def reconcile(
    registration: Registration,
    answer: Sequence[offers_client.ServiceOfferData],
    *,
    observed_at: datetime,
) -> None:
    """Bring a product's service offers in line with one answer, in one transaction."""
    period = timedelta(seconds=settings.OFFERS_POLL_SECONDS)
    with transaction.atomic():
        known = {
            item.external_id: item
            for item in ServiceOffer.objects.select_for_update(of=("self",))
            .select_related("offer")
            .filter(registration=registration)
        }
        seen: set[uuid.UUID] = set()
        observations: list[tuple[int, pricing.Observation]] = []
        new: list[tuple[offers_client.ServiceOfferData, pricing.NewOffer]] = []
        for item in answer:
            seen.add(item.id)
            existing = known.get(item.id)
            if existing is None:
                spec = pricing.NewOffer(
                    kind=Offer.Kind.SERVICE,
                    title=registration.product.title,
                    shop="offers service",
                    observation=_observation(item, observed_at),
                )
                new.append((item, spec))
                continue
            observation = _observation(item, observed_at)
            # History keeps changes: an unchanged price is not another point every minute.
            if (existing.offer.price, existing.offer.availability) != (
                observation.price,
                observation.availability,
            ):
                observations.append((existing.offer_id, observation))
            existing.items_in_stock = item.items_in_stock
            existing.last_seen_at = observed_at
            existing.gone_at = None
        gone = [
            row for external_id, row in known.items() if external_id not in seen and not row.gone_at
        ]
        for row in gone:
            row.gone_at = observed_at
            row.items_in_stock = 0
            observations.append(
                (
                    row.offer_id,
                    pricing.Observation(
                        price=None,
                        currency=settings.OFFERS_CURRENCY,
                        method="offers-service",
                        availability=Availability.OUT_OF_STOCK,
                        observed_at=observed_at,
                    ),
                )
            )
        if observations:
            pricing.record_prices(observations)
        offer_ids = pricing.create_offer_ids([spec for _, spec in new])
        ServiceOffer.objects.bulk_create(
            [
                ServiceOffer(
                    registration=registration,
                    offer_id=offer_id,
                    external_id=item.id,
                    items_in_stock=item.items_in_stock,
                    first_seen_at=observed_at,
                    last_seen_at=observed_at,
                )
                for (item, _), offer_id in zip(new, offer_ids, strict=True)
            ]
        )
        ServiceOffer.objects.bulk_update(
            [row for row in known.values() if row.external_id in seen or row in gone],
            ["items_in_stock", "last_seen_at", "gone_at"],
        )
        Registration.objects.filter(pk=registration.pk).update(
            polled_at=observed_at,
            poll_error="",
            leased_until=None,
            next_poll_at=observed_at + period,
        )


def dispatch_due(*, now: datetime | None = None) -> dict[str, Any]:
    """One tick of the dispatcher (registered in `OffersConfig.ready`)."""
    if not offers_client.enabled():
        return {"enabled": False}
    queued = queue_missing_registrations()
    registered = register_due(now=now)
    polled = poll_due(now=now)
    return {"queued": queued, **registered, **polled}
