"""Every write to watchlists and their items, and "check now".

Adding a URL normalises it (`normalize.py`), refuses private addresses before anything is
stored, and shares the page: one `pricing.Offer` (kind page) and one `Page` per normalised URL,
however many users watch it. A page that has never been checked gets its first check at once
(after commit); a page someone else already tracks shows its current price straight away.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from pricewatch.accounts.models import User
from pricewatch.catalog.models import Product
from pricewatch.core import fetch
from pricewatch.core.errors import Conflict, DomainError
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Offer
from pricewatch.tracking import dispatch, normalize, selectors
from pricewatch.tracking import schedule as schedules
from pricewatch.tracking.models import Page, WatchItem, Watchlist

MAX_NAME_LENGTH = 100
MAX_NOTE_LENGTH = 2000
DEFAULT_TIMES = ("09:00",)
# How long the add-time address check may wait for DNS; the fetcher checks again anyway.
RESOLVE_TIMEOUT_SECONDS = 5.0
UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A schedule as the user gave it: times of day (+ weekdays) or an interval in minutes.

    An empty `time_zone` means "the owner's time zone" (and follows it when it changes).
    """

    times: tuple[str, ...] = ()
    weekdays: tuple[int, ...] = ()
    time_zone: str = ""
    interval_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class CheckNowResult:
    queued: int
    already_running: int
    not_checkable: int


class RateLimited(DomainError):
    status = 429
    code = "throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


# --- watchlists --------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise DomainError(
            "A list needs a name.", code="invalid", status=422, fields={"name": "Required."}
        )
    if len(cleaned) > MAX_NAME_LENGTH:
        raise DomainError(
            f"A list name has at most {MAX_NAME_LENGTH} characters.",
            code="invalid",
            status=422,
            fields={"name": f"At most {MAX_NAME_LENGTH} characters."},
        )
    return cleaned


def _name_conflict(name: str) -> Conflict:
    return Conflict(
        f"You already have a list named '{name}'.",
        code="duplicate_name",
        fields={"name": "Already used by another of your lists."},
    )


def validate_schedule(*, owner: User, spec: ScheduleSpec) -> schedules.Schedule:
    """Check a schedule the user gave; raises DomainError (422) naming the wrong field."""
    try:
        zone = schedules.parse_time_zone(spec.time_zone or owner.time_zone or "UTC")
        if spec.interval_minutes is not None:
            if spec.times or spec.weekdays:
                raise schedules.InvalidSchedule(
                    "Give either times of day (with weekdays) or an interval, not both.",
                    field="interval_minutes",
                )
            minimum = 1 if owner.is_staff else settings.TRACKING_MIN_INTERVAL_MINUTES
            interval = schedules.parse_interval(spec.interval_minutes, minimum=minimum)
            return schedules.Schedule(time_zone=zone, interval_minutes=interval)
        return schedules.Schedule(
            time_zone=zone,
            times=schedules.parse_times(spec.times),
            weekdays=schedules.parse_weekdays(spec.weekdays),
        )
    except schedules.InvalidSchedule as exc:
        field = "interval_minutes" if exc.field == "interval" else exc.field
        raise DomainError(
            exc.message,
            code="invalid_schedule",
            status=422,
            fields={f"schedule.{field}": exc.message},
        ) from exc


def _apply_schedule(watchlist: Watchlist, spec: ScheduleSpec, checked: schedules.Schedule) -> None:
    watchlist.time_zone = spec.time_zone
    if checked.interval_minutes:
        watchlist.schedule_kind = Watchlist.ScheduleKind.INTERVAL
        watchlist.interval_minutes = checked.interval_minutes
        watchlist.times = []
        watchlist.weekdays = []
    else:
        watchlist.schedule_kind = Watchlist.ScheduleKind.TIMES
        watchlist.interval_minutes = None
        watchlist.times = schedules.format_times(checked.times)
        watchlist.weekdays = sorted(checked.weekdays)


def create_watchlist(
    *, owner: User, name: str, schedule: ScheduleSpec | None = None, paused: bool = False
) -> Watchlist:
    """A new list; without a schedule it is checked daily at 09:00 in the owner's time zone."""
    cleaned = _clean_name(name)
    spec = schedule or ScheduleSpec(times=DEFAULT_TIMES)
    checked = validate_schedule(owner=owner, spec=spec)
    watchlist = Watchlist(owner=owner, name=cleaned, paused=paused)
    _apply_schedule(watchlist, spec, checked)
    watchlist.next_due_at = None if paused else schedules.next_run(checked, timezone.now())
    if selectors.name_taken(owner, cleaned):
        raise _name_conflict(cleaned)
    try:
        with transaction.atomic():
            watchlist.save()
    except IntegrityError as exc:  # a concurrent request took the name
        raise _name_conflict(cleaned) from exc
    watchlist.item_count = 0  # type: ignore[attr-defined]
    return watchlist


def update_watchlist(
    *,
    watchlist: Watchlist,
    name: str | None = None,
    schedule: ScheduleSpec | None = None,
    paused: bool | None = None,
) -> Watchlist:
    """Rename, reschedule, pause or resume a list. A new schedule or resuming moves the next
    run to the first one after now."""
    owner = watchlist.owner
    fields = ["updated_at"]
    if name is not None:
        cleaned = _clean_name(name)
        if cleaned != watchlist.name:
            if selectors.name_taken(owner, cleaned, exclude=watchlist.pk):
                raise _name_conflict(cleaned)
            watchlist.name = cleaned
            fields.append("name")
    reschedule = False
    if schedule is not None:
        checked = validate_schedule(owner=owner, spec=schedule)
        _apply_schedule(watchlist, schedule, checked)
        fields += ["schedule_kind", "times", "weekdays", "time_zone", "interval_minutes"]
        reschedule = True
    if paused is not None and paused != watchlist.paused:
        watchlist.paused = paused
        fields.append("paused")
        reschedule = True
    if reschedule:
        watchlist.next_due_at = (
            None if watchlist.paused else dispatch.next_due(watchlist, timezone.now())
        )
        fields.append("next_due_at")
    try:
        with transaction.atomic():
            watchlist.save(update_fields=fields)
    except IntegrityError as exc:
        raise _name_conflict(watchlist.name) from exc
    return watchlist


def delete_watchlist(*, watchlist: Watchlist) -> None:
    """Delete a list and its items; the offers (and their history) stay for other watchers."""
    watchlist.delete()


# --- items -------------------------------------------------------------------------------------


def _refuse_private_address(url: str) -> None:
    """Refuse at add time what the fetcher would refuse at connect time, with a clear message.

    A host that does not resolve right now is let through: the shop may be down for a moment,
    and the fetcher checks every address again when it connects.
    """
    policy = fetch.AddressPolicy(settings.FETCH_ALLOW_NETWORKS)
    host, port = normalize.url_host(url), normalize.url_port(url)
    try:
        # The fetcher's own check: allow-list entries (also host:port), IP literals, names.
        asyncio.run(policy.resolve_checked(host, port, RESOLVE_TIMEOUT_SECONDS))
    except fetch.BlockedAddressError as exc:
        # "Refusing to contact 10.0.0.5: it is a private network address."
        raise _blocked(url, str(exc).split(": ", 1)[-1]) from exc
    except Exception:  # noqa: S110 - DNS trouble now is no reason to refuse
        pass


def _blocked(url: str, why: str) -> DomainError:
    return DomainError(
        f"Refusing to track {url}: {why}", code="blocked_address", fields={"url": why}
    )


def _clean_target(target_price: Decimal | None) -> Decimal | None:
    if target_price is None:
        return None
    if not target_price.is_finite() or target_price < 0:
        raise DomainError(
            "The target price must be zero or more.",
            code="invalid",
            status=422,
            fields={"target_price": "Zero or more."},
        )
    if target_price > pricing.MAX_PRICE:
        raise DomainError(
            "The target price is too large.",
            code="invalid",
            status=422,
            fields={"target_price": "Too large."},
        )
    return target_price


def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise DomainError(
            f"A note has at most {MAX_NOTE_LENGTH} characters.",
            code="invalid",
            status=422,
            fields={"note": f"At most {MAX_NOTE_LENGTH} characters."},
        )
    return note


def track_url(*, url: str) -> Offer:
    """The shared offer (and page) of a product URL, created if nobody tracks it yet.

    Enqueues the first check after commit when the page has never been checked and no check
    is under way.
    """
    try:
        normalized = normalize.normalize_url(url)
    except normalize.InvalidURL as exc:
        raise DomainError(str(exc), code="invalid_url", fields={"url": str(exc)}) from exc
    _refuse_private_address(normalized)
    host = normalize.url_host(normalized)
    offer = Offer.objects.filter(url=normalized).first()
    if offer is None:
        try:
            with transaction.atomic():
                offer = pricing.create_offer(kind=Offer.Kind.PAGE, url=normalized, shop=host)
        except IntegrityError:  # someone added the same URL a moment ago
            offer = Offer.objects.get(url=normalized)
    if offer.kind != Offer.Kind.PAGE:
        return offer
    page, _ = Page.objects.get_or_create(offer=offer, defaults={"domain": host})
    if page.last_checked_at is None:
        now = timezone.now()
        if page.leased_until is None or page.leased_until <= now:
            taken = dispatch.lease_pages([page.pk], now)
            if taken:
                transaction.on_commit(lambda: dispatch.enqueue_first_check(page.pk))
    return offer


def _ensure_absent(watchlist: Watchlist, offer: Offer) -> None:
    if WatchItem.objects.filter(watchlist=watchlist, offer=offer).exists():
        raise Conflict(
            f"This product is already on the list '{watchlist.name}'.",
            code="duplicate_item",
        )


def _add(
    *, watchlist: Watchlist, offer: Offer, target_price: Decimal | None, note: str
) -> WatchItem:
    _ensure_absent(watchlist, offer)
    try:
        with transaction.atomic():
            item = WatchItem.objects.create(
                watchlist=watchlist, offer=offer, target_price=target_price, note=note
            )
    except IntegrityError as exc:
        raise Conflict(
            f"This product is already on the list '{watchlist.name}'.", code="duplicate_item"
        ) from exc
    return selectors.get_item(watchlist.owner, item.pk)


def add_item_by_url(
    *,
    watchlist: Watchlist,
    url: str,
    target_price: Decimal | None = None,
    note: str = "",
) -> WatchItem:
    target = _clean_target(target_price)
    cleaned_note = _clean_note(note)
    with transaction.atomic():
        offer = track_url(url=url)
        return _add(watchlist=watchlist, offer=offer, target_price=target, note=cleaned_note)


def add_item_by_product(
    *,
    watchlist: Watchlist,
    product_id: int,
    target_price: Decimal | None = None,
    note: str = "",
) -> WatchItem:
    """Watch a catalog product (its own offer: the shop's price)."""
    target = _clean_target(target_price)
    cleaned_note = _clean_note(note)
    product = Product.objects.filter(pk=product_id).select_related("offer").first()
    if product is None:
        raise DomainError(
            f"No product with id {product_id}.",
            code="not_found",
            status=404,
            fields={"product_id": "No such product."},
        )
    if not product.active:
        raise DomainError(
            f"The product '{product.title}' is no longer available.",
            code="inactive_product",
            fields={"product_id": "Inactive product."},
        )
    with transaction.atomic():
        return _add(
            watchlist=watchlist, offer=product.offer, target_price=target, note=cleaned_note
        )


def update_item(
    *, item: WatchItem, target_price: Decimal | None = UNSET, note: str | None = None
) -> WatchItem:
    fields = []
    if target_price is not UNSET:
        item.target_price = _clean_target(target_price)
        fields.append("target_price")
    if note is not None:
        item.note = _clean_note(note)
        fields.append("note")
    if fields:
        item.save(update_fields=fields)
    return item


def remove_item(*, item: WatchItem) -> None:
    item.delete()


def _target_list(item: WatchItem, to: Watchlist) -> None:
    if to.owner_id != item.watchlist.owner_id:  # selectors already scope; belt and braces
        raise DomainError(f"No watchlist with id {to.pk}.", code="not_found", status=404)
    if to.pk == item.watchlist_id:
        raise Conflict(f"The item is already on '{to.name}'.", code="duplicate_item")
    _ensure_absent(to, item.offer)


def move_item(*, item: WatchItem, to: Watchlist) -> WatchItem:
    """Move an item to another of the owner's lists; 409 if that list has the product already."""
    _target_list(item, to)
    try:
        with transaction.atomic():
            item.watchlist = to
            item.save(update_fields=["watchlist"])
    except IntegrityError as exc:
        raise Conflict(f"This product is already on '{to.name}'.", code="duplicate_item") from exc
    return selectors.get_item(to.owner, item.pk)


def copy_item(*, item: WatchItem, to: Watchlist) -> WatchItem:
    """Copy an item (target price and note too) to another list; 409 if it is there already."""
    _target_list(item, to)
    return _add(watchlist=to, offer=item.offer, target_price=item.target_price, note=item.note)


# --- check now ---------------------------------------------------------------------------------


def _parse_rate(rate: str) -> tuple[int, int]:
    count, _, period = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(period.strip()[:1].lower(), 60)
    return max(int(count), 1), seconds


def _take_check_now_token(user: User) -> None:
    """A fixed-window limit per user (settings.TRACKING_CHECK_NOW_RATE, e.g. "10/m")."""
    limit, period = _parse_rate(settings.TRACKING_CHECK_NOW_RATE)
    now = time.time()
    window = int(now // period)
    key = f"tracking:check-now:{user.pk}:{window}"
    cache.add(key, 0, timeout=period + 1)
    try:
        used = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=period + 1)
        used = 1
    if used > limit:
        retry_after = max(1, int((window + 1) * period - now + 0.999))
        raise RateLimited(
            f"You can ask for {limit} checks per {_period_name(period)}; "
            f"try again in {retry_after} s.",
            retry_after=retry_after,
        )


def _period_name(seconds: int) -> str:
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} s")


def check_now(*, user: User, offer_ids: list[int], total: int) -> CheckNowResult:
    """Check these pages now (rate-limited per user); pages being checked are left alone.

    `total` counts all items asked for, so items whose price comes from the catalog (nothing
    to fetch) are reported as not checkable.
    """
    _take_check_now_token(user)
    now = timezone.now()
    with transaction.atomic():
        taken = dispatch.lease_pages(offer_ids, now)
        if taken:
            transaction.on_commit(lambda: dispatch.enqueue_checks(taken, "manual"))
    return CheckNowResult(
        queued=len(taken),
        already_running=len(offer_ids) - len(taken),
        not_checkable=total - len(offer_ids),
    )


def check_watchlist_now(*, user: User, watchlist: Watchlist) -> CheckNowResult:
    offer_ids = selectors.page_offer_ids_of(watchlist)
    total = WatchItem.objects.filter(watchlist=watchlist).count()
    return check_now(user=user, offer_ids=offer_ids, total=total)


def check_item_now(*, user: User, item: WatchItem) -> CheckNowResult:
    offer_ids = [item.offer_id] if item.offer.kind == Offer.Kind.PAGE else []
    return check_now(user=user, offer_ids=offer_ids, total=1)
