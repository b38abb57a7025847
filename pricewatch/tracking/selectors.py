"""Reads of watchlists, items and checks, always scoped to their owner.

Every query that returns a user's lists or items starts here, so no endpoint can forget the
scoping: another user's list or item is simply not found (404).
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Lower

from pricewatch.accounts.models import User
from pricewatch.core.errors import DomainError, first_or_404
from pricewatch.pricing.models import Offer
from pricewatch.tracking.models import Check, Page, WatchItem, Watchlist

ITEM_ORDERINGS: dict[str, tuple[str, ...]] = {
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "title": ("offer__title", "id"),
    "-title": ("-offer__title", "-id"),
    "price": ("offer__price", "id"),
    "-price": ("-offer__price", "-id"),
    "change": ("change_ratio", "id"),
    "-change": ("-change_ratio", "-id"),
}


def watchlists_for(user: User) -> QuerySet[Watchlist]:
    """The user's lists with their item counts, by name (one query)."""
    return (
        Watchlist.objects.filter(owner=user)
        .select_related("owner")
        .annotate(item_count=Count("items"))
        .order_by(Lower("name"), "id")
    )


def get_watchlist(user: User, watchlist_id: int) -> Watchlist:
    return first_or_404(watchlists_for(user), watchlist_id, noun="watchlist")


def items_for(
    user: User,
    *,
    watchlist: Watchlist | None = None,
    min_drop_percent: Decimal | None = None,
    ordering: str = "-created",
) -> QuerySet[WatchItem]:
    """The user's items (of one list, or all), with offer, page and product in one query.

    `min_drop_percent` keeps items whose current price is at least that many percent below
    the first recorded price.
    """
    if ordering not in ITEM_ORDERINGS:
        allowed = ", ".join(ITEM_ORDERINGS)
        raise DomainError(
            f"Unknown ordering '{ordering}'; use one of: {allowed}.",
            code="invalid_ordering",
            fields={"ordering": f"One of: {allowed}."},
        )
    query = WatchItem.objects.filter(watchlist__owner=user).select_related(
        "offer", "offer__page", "offer__product"
    )
    if ordering.lstrip("-") == "change":
        # Items without a first price (never priced) sort last either way.
        query = query.annotate(change_ratio=F("offer__price") / F("offer__first_price"))
        direction = F("change_ratio").desc if ordering.startswith("-") else F("change_ratio").asc
        query = query.order_by(direction(nulls_last=True), "id")
    else:
        query = query.order_by(*ITEM_ORDERINGS[ordering])
    if watchlist is not None:
        query = query.filter(watchlist=watchlist)
    if min_drop_percent is not None:
        factor = (Decimal(100) - min_drop_percent) / Decimal(100)
        query = query.filter(
            offer__price__isnull=False,
            offer__first_price__gt=0,
            offer__price__lte=F("offer__first_price") * factor,
        )
    return query


def get_item(user: User, item_id: int) -> WatchItem:
    items = WatchItem.objects.filter(watchlist__owner=user).select_related(
        "watchlist", "offer", "offer__page", "offer__product"
    )
    return first_or_404(items, item_id, noun="watch item")


def watches_offer(user: User, offer_id: int) -> bool:
    return WatchItem.objects.filter(watchlist__owner=user, offer_id=offer_id).exists()


def checks_for(item: WatchItem) -> QuerySet[Check]:
    """The check log of an item's page, newest first (empty for catalog offers)."""
    return Check.objects.filter(page_id=item.offer_id).order_by("-started_at", "-id")


def offers_for_check(items: QuerySet[WatchItem] | list[WatchItem]) -> list[int]:
    """Offer ids of items whose offer is a tracked page (catalog prices are not fetched)."""
    return sorted(
        {
            offer_id
            for offer_id, kind in ((item.offer_id, item.offer.kind) for item in items)
            if kind == Offer.Kind.PAGE
        }
    )


def page_offer_ids_of(watchlist: Watchlist) -> list[int]:
    return list(
        WatchItem.objects.filter(watchlist=watchlist, offer__kind=Offer.Kind.PAGE)
        .order_by("offer_id")
        .values_list("offer_id", flat=True)
    )


def name_taken(user: User, name: str, *, exclude: int | None = None) -> bool:
    query = Watchlist.objects.filter(owner=user).filter(Q(name__iexact=name))
    if exclude is not None:
        query = query.exclude(pk=exclude)
    return query.exists()


# Check outcomes that mean a page needs the user's attention.
FAILING = (Check.Status.ERROR, Check.Status.NO_PRICE, Check.Status.UNCONFIRMED)


def failing_items_for(user: User) -> QuerySet[WatchItem]:
    """The user's items whose page's last check failed, most recent first."""
    return (
        items_for(user)
        .filter(offer__page__last_status__in=FAILING)
        .order_by("-offer__page__last_checked_at", "id")
    )


def last_checked_page_for(user: User) -> Page | None:
    """The most recently checked page on any of the user's lists."""
    return (
        Page.objects.filter(offer__watchers__watchlist__owner=user, last_checked_at__isnull=False)
        .select_related("offer")
        .order_by("-last_checked_at")
        .first()
    )
