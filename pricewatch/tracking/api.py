"""Watchlists and their items: the tracking API (signed-in users, each sees only their own).

GET/POST          /api/v1/watchlists
GET/PATCH/DELETE  /api/v1/watchlists/{id}
GET               /api/v1/watchlists/{id}/next-runs?count=10
POST              /api/v1/watchlists/{id}/check                  check now
GET/POST          /api/v1/watchlists/{id}/items                  list / add by url or product
POST              /api/v1/schedules/preview                      next runs of an unsaved one
GET               /api/v1/watch-items                            all your items (filters)
GET/PATCH/DELETE  /api/v1/watch-items/{id}
POST              /api/v1/watch-items/{id}/move | /copy          {"watchlist_id": …}
POST              /api/v1/watch-items/{id}/check                 check now
GET               /api/v1/watch-items/{id}/checks                the check log
GET               /api/v1/watch-items/{id}/history               price history
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.errors import Throttled

from pricewatch.accounts.models import User
from pricewatch.core.auth import access_token
from pricewatch.pricing import api as pricing_api
from pricewatch.pricing.schemas import HistoryOut, HistoryQuery
from pricewatch.tracking import dispatch, selectors, services
from pricewatch.tracking import schedule as schedules
from pricewatch.tracking.models import WatchItem, Watchlist
from pricewatch.tracking.schemas import (
    CheckNowOut,
    CheckPageOut,
    MoveIn,
    ScheduleIn,
    SchedulePreviewOut,
    WatchItemIn,
    WatchItemOut,
    WatchItemPageOut,
    WatchItemPatch,
    WatchlistIn,
    WatchlistOut,
    WatchlistPatch,
    check_payload,
    item_payload,
    watchlist_payload,
)

router = Router(tags=["watchlists"], auth=access_token)

LIST_PREVIEW_RUNS = 3
ItemOrdering = Literal[
    "created", "-created", "title", "-title", "price", "-price", "change", "-change"
]


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _spec(schedule: ScheduleIn | None) -> services.ScheduleSpec | None:
    if schedule is None:
        return None
    return services.ScheduleSpec(
        times=tuple(schedule.times),
        weekdays=tuple(schedule.weekdays),
        time_zone=schedule.time_zone,
        interval_minutes=schedule.interval_minutes,
    )


def _runs(watchlist: Watchlist, count: int) -> list[datetime]:
    if watchlist.paused:
        return []
    try:
        return schedules.next_runs(dispatch.watchlist_schedule(watchlist), timezone.now(), count)
    except (schedules.InvalidSchedule, ValueError, LookupError):
        return []


def _page(query: QuerySet[Any], page: int, page_size: int) -> tuple[list[Any], int, int]:
    count = query.count()
    pages = max(1, -(-count // page_size))
    return list(query[(page - 1) * page_size : page * page_size]), count, pages


def _throttled(exc: services.RateLimited) -> Throttled:
    return Throttled(wait=exc.retry_after)


# --- watchlists --------------------------------------------------------------------------------


@router.get("/watchlists", response=list[WatchlistOut], summary="Your watchlists")
def list_watchlists(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        watchlist_payload(watchlist, _runs(watchlist, LIST_PREVIEW_RUNS))
        for watchlist in selectors.watchlists_for(_user(request))
    ]


@router.post("/watchlists", response={201: WatchlistOut}, summary="Create a watchlist")
def create_watchlist(request: HttpRequest, payload: WatchlistIn) -> Status[Any]:
    watchlist = services.create_watchlist(
        owner=_user(request),
        name=payload.name,
        schedule=_spec(payload.schedule),
        paused=payload.paused,
    )
    return Status(201, watchlist_payload(watchlist, _runs(watchlist, LIST_PREVIEW_RUNS)))


@router.get("/watchlists/{watchlist_id}", response=WatchlistOut, summary="One watchlist")
def get_watchlist(request: HttpRequest, watchlist_id: int) -> dict[str, Any]:
    watchlist = selectors.get_watchlist(_user(request), watchlist_id)
    return watchlist_payload(watchlist, _runs(watchlist, LIST_PREVIEW_RUNS))


@router.patch(
    "/watchlists/{watchlist_id}",
    response=WatchlistOut,
    summary="Rename, reschedule, pause or resume a watchlist",
)
def patch_watchlist(
    request: HttpRequest, watchlist_id: int, payload: WatchlistPatch
) -> dict[str, Any]:
    user = _user(request)
    watchlist = selectors.get_watchlist(user, watchlist_id)
    services.update_watchlist(
        watchlist=watchlist,
        name=payload.name,
        schedule=_spec(payload.schedule),
        paused=payload.paused,
    )
    return watchlist_payload(watchlist, _runs(watchlist, LIST_PREVIEW_RUNS))


@router.delete(
    "/watchlists/{watchlist_id}",
    response={204: None},
    summary="Delete a watchlist and its items (offers others watch stay)",
)
def delete_watchlist(request: HttpRequest, watchlist_id: int) -> Status[Any]:
    services.delete_watchlist(watchlist=selectors.get_watchlist(_user(request), watchlist_id))
    return Status(204, None)


@router.get(
    "/watchlists/{watchlist_id}/next-runs",
    response=SchedulePreviewOut,
    summary="The next runs of a watchlist's schedule",
)
def watchlist_next_runs(
    request: HttpRequest, watchlist_id: int, count: int = Query(10, ge=1, le=100)
) -> dict[str, Any]:
    watchlist = selectors.get_watchlist(_user(request), watchlist_id)
    return {
        "time_zone": watchlist.time_zone or watchlist.owner.time_zone,
        "next_runs": _runs(watchlist, count),
    }


@router.post(
    "/schedules/preview",
    response=SchedulePreviewOut,
    summary="The next runs of a schedule before saving it",
)
def preview_schedule(
    request: HttpRequest, payload: ScheduleIn, count: int = Query(10, ge=1, le=100)
) -> dict[str, Any]:
    user = _user(request)
    spec = _spec(payload)
    assert spec is not None
    checked = services.validate_schedule(owner=user, spec=spec)
    return {
        "time_zone": checked.time_zone,
        "next_runs": schedules.next_runs(checked, timezone.now(), count),
    }


@router.post(
    "/watchlists/{watchlist_id}/check",
    response={202: CheckNowOut},
    summary="Check every page on a list now (rate-limited)",
)
def check_watchlist_now(request: HttpRequest, watchlist_id: int) -> Status[Any]:
    user = _user(request)
    watchlist = selectors.get_watchlist(user, watchlist_id)
    try:
        result = services.check_watchlist_now(user=user, watchlist=watchlist)
    except services.RateLimited as exc:
        raise _throttled(exc) from exc
    return Status(202, result)


# --- items -------------------------------------------------------------------------------------


@router.get(
    "/watchlists/{watchlist_id}/items",
    response=WatchItemPageOut,
    summary="The items of a watchlist",
)
def list_items(
    request: HttpRequest,
    watchlist_id: int,
    min_drop: Decimal | None = Query(None, gt=0, le=100),  # noqa: B008
    ordering: ItemOrdering = "-created",
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    user = _user(request)
    watchlist = selectors.get_watchlist(user, watchlist_id)
    query = selectors.items_for(
        user, watchlist=watchlist, min_drop_percent=min_drop, ordering=ordering
    )
    rows, count, pages = _page(query, page, page_size)
    return {"items": [item_payload(i) for i in rows], "count": count, "page": page, "pages": pages}


@router.post(
    "/watchlists/{watchlist_id}/items",
    response={201: WatchItemOut},
    summary="Add a product page URL or a catalog product to a watchlist",
)
def add_item(request: HttpRequest, watchlist_id: int, payload: WatchItemIn) -> Status[Any]:
    watchlist = selectors.get_watchlist(_user(request), watchlist_id)
    if payload.url is not None:
        item = services.add_item_by_url(
            watchlist=watchlist,
            url=payload.url,
            target_price=payload.target_price,
            note=payload.note,
        )
    else:
        assert payload.product_id is not None
        item = services.add_item_by_product(
            watchlist=watchlist,
            product_id=payload.product_id,
            target_price=payload.target_price,
            note=payload.note,
        )
    return Status(201, item_payload(item))


@router.get(
    "/watch-items",
    response=WatchItemPageOut,
    summary="All your items across lists, e.g. those 30 % or more below their first price",
)
def list_all_items(
    request: HttpRequest,
    min_drop: Decimal | None = Query(None, gt=0, le=100),  # noqa: B008
    ordering: ItemOrdering = "-created",
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    query = selectors.items_for(_user(request), min_drop_percent=min_drop, ordering=ordering)
    rows, count, pages = _page(query, page, page_size)
    return {"items": [item_payload(i) for i in rows], "count": count, "page": page, "pages": pages}


@router.get("/watch-items/{item_id}", response=WatchItemOut, summary="One watch item")
def get_item(request: HttpRequest, item_id: int) -> dict[str, Any]:
    return item_payload(selectors.get_item(_user(request), item_id))


@router.patch(
    "/watch-items/{item_id}", response=WatchItemOut, summary="Change an item's target or note"
)
def patch_item(request: HttpRequest, item_id: int, payload: WatchItemPatch) -> dict[str, Any]:
    item = selectors.get_item(_user(request), item_id)
    data = payload.model_dump(exclude_unset=True)
    services.update_item(
        item=item,
        target_price=data.get("target_price", services.UNSET),
        note=data.get("note"),
    )
    return item_payload(item)


@router.delete("/watch-items/{item_id}", response={204: None}, summary="Remove an item")
def delete_item(request: HttpRequest, item_id: int) -> Status[Any]:
    services.remove_item(item=selectors.get_item(_user(request), item_id))
    return Status(204, None)


@router.post(
    "/watch-items/{item_id}/move",
    response=WatchItemOut,
    summary="Move an item to another of your lists (409 if it is there already)",
)
def move_item(request: HttpRequest, item_id: int, payload: MoveIn) -> dict[str, Any]:
    user = _user(request)
    item = selectors.get_item(user, item_id)
    target = selectors.get_watchlist(user, payload.watchlist_id)
    return item_payload(services.move_item(item=item, to=target))


@router.post(
    "/watch-items/{item_id}/copy",
    response={201: WatchItemOut},
    summary="Copy an item to another of your lists (409 if it is there already)",
)
def copy_item(request: HttpRequest, item_id: int, payload: MoveIn) -> Status[Any]:
    user = _user(request)
    item = selectors.get_item(user, item_id)
    target = selectors.get_watchlist(user, payload.watchlist_id)
    return Status(201, item_payload(services.copy_item(item=item, to=target)))


@router.post(
    "/watch-items/{item_id}/check",
    response={202: CheckNowOut},
    summary="Check an item's page now (rate-limited)",
)
def check_item_now(request: HttpRequest, item_id: int) -> Status[Any]:
    user = _user(request)
    item = selectors.get_item(user, item_id)
    try:
        result = services.check_item_now(user=user, item=item)
    except services.RateLimited as exc:
        raise _throttled(exc) from exc
    return Status(202, result)


@router.get(
    "/watch-items/{item_id}/checks",
    response=CheckPageOut,
    summary="The check log of an item's page, newest first",
)
def list_checks(
    request: HttpRequest,
    item_id: int,
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    item = selectors.get_item(_user(request), item_id)
    rows, count, pages = _page(selectors.checks_for(item), page, page_size)
    return {"items": [check_payload(c) for c in rows], "count": count, "page": page, "pages": pages}


@router.get(
    "/watch-items/{item_id}/history",
    response=HistoryOut,
    summary="An item's price history, daily (low, high, close) or every point",
)
def item_history(request: HttpRequest, item_id: int, query: Query[HistoryQuery]) -> dict[str, Any]:
    item: WatchItem = selectors.get_item(_user(request), item_id)
    return pricing_api.history_answer(item.offer, query)
