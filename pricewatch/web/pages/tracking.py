"""Web pages: the dashboard, watchlists and tracked items.

Views parse a form, call one service (tracking, alerts) or selector, and render. A DomainError
from a service becomes a message or a field error in its own words; another user's list or item
is a 404 (the selectors scope every read to the signed-in user).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from pricewatch.accounts.models import User
from pricewatch.alerts import selectors as alert_selectors
from pricewatch.alerts import services as alert_services
from pricewatch.alerts.models import AlertRule
from pricewatch.core import money
from pricewatch.core.errors import DomainError
from pricewatch.pricing import selectors as pricing_selectors
from pricewatch.pricing.models import Offer
from pricewatch.tracking import schedule as schedules
from pricewatch.tracking import selectors, services
from pricewatch.tracking.models import Page, WatchItem, Watchlist
from pricewatch.web import forms
from pricewatch.web.templatetags import pricewatch_tags

ITEMS_PER_PAGE = 50
SPARKLINE_DAYS = 30
DASHBOARD_DROPS = 5
CHECK_LOG_SIZE = 20
PREVIEW_RUNS = 8
# Statuses of a page's last check that need the owner's attention.
CHART_RANGES = {"7d": 7, "30d": 30, "1y": 365, "all": None}


# --- helpers -----------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _watchlist(request: HttpRequest, watchlist_id: int) -> Watchlist:
    try:
        return selectors.get_watchlist(_user(request), watchlist_id)
    except DomainError as exc:
        raise Http404(exc.detail) from exc


def _item(request: HttpRequest, item_id: int) -> WatchItem:
    try:
        return selectors.get_item(_user(request), item_id)
    except DomainError as exc:
        raise Http404(exc.detail) from exc


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Redirect to the form's `next` (same site only) or to `fallback`."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def _page_of(offer: Offer) -> Page | None:
    if offer.kind != Offer.Kind.PAGE:
        return None
    try:
        return offer.page
    except Page.DoesNotExist:
        return None


def _with_sparklines(items: list[WatchItem]) -> list[WatchItem]:
    series = pricing_selectors.daily_closes(
        sorted({item.offer_id for item in items}), days=SPARKLINE_DAYS
    )
    for item in items:
        item.spark = series.get(item.offer_id, [])  # type: ignore[attr-defined]
    return items


def schedule_summary(watchlist: Watchlist) -> str:
    """ "Daily at 09:00 (Europe/Berlin)", "Mon, Fri at 08:00, 18:00 (UTC)", "Every 60 minutes"."""
    if watchlist.paused:
        return "Paused"
    if watchlist.schedule_kind == Watchlist.ScheduleKind.INTERVAL:
        return f"Every {watchlist.interval_minutes} minutes"
    zone = watchlist.time_zone or watchlist.owner.time_zone or "UTC"
    names = dict(forms.WEEKDAY_CHOICES)
    days = sorted(watchlist.weekdays or [])
    when = "Daily" if not days or len(days) == 7 else ", ".join(names[day] for day in days)
    return f"{when} at {', '.join(watchlist.times)} ({zone})"


def _feedback(
    request: HttpRequest, text: str, *, error: bool = False, fallback: str
) -> HttpResponse:
    if error:
        messages.error(request, text)
    else:
        messages.success(request, text)
    return _back(request, fallback)


def _check_now_text(result: services.CheckNowResult) -> str:
    parts = []
    if result.queued:
        parts.append(f"Checking {result.queued} page{'s' if result.queued != 1 else ''} now.")
    if result.already_running:
        parts.append(f"{result.already_running} already being checked.")
    if result.not_checkable:
        parts.append(
            f"{result.not_checkable} catalog product{'s' if result.not_checkable != 1 else ''} "
            "get their price from the catalog."
        )
    return " ".join(parts) or "Nothing to check on this list yet."


# --- dashboard ---------------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "web/home.html")
    user = _user(request)
    lists = list(selectors.watchlists_for(user))
    drops = list(
        selectors.items_for(user, min_drop_percent=Decimal("0.01"), ordering="change")[
            :DASHBOARD_DROPS
        ]
    )
    attention = list(selectors.failing_items_for(user)[:10])
    last_checked = selectors.last_checked_page_for(user)
    context = {
        "lists": lists,
        "item_total": sum(getattr(wl, "item_count", 0) for wl in lists),
        "drops": drops,
        "attention": attention,
        "last_checked": last_checked,
        "name_form": forms.WatchlistNameForm(),
    }
    return render(request, "web/home.html", context)


# --- watchlists --------------------------------------------------------------------------------


@login_required
def watchlists(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = forms.WatchlistNameForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                watchlist = services.create_watchlist(owner=user, name=form.cleaned_data["name"])
            except DomainError as exc:
                form.add_error("name", exc.detail)
            else:
                messages.success(request, f"Created the list '{watchlist.name}'. Add a product.")
                return redirect("web:watchlist", watchlist_id=watchlist.pk)
        status = 422
    lists = list(selectors.watchlists_for(user))
    for watchlist in lists:
        watchlist.summary = schedule_summary(watchlist)  # type: ignore[attr-defined]
    return render(
        request, "web/tracking/watchlists.html", {"lists": lists, "form": form}, status=status
    )


def _list_context(
    request: HttpRequest, watchlist: Watchlist, add_form: forms.AddUrlForm | None = None
) -> dict[str, Any]:
    user = _user(request)
    query = selectors.items_for(user, watchlist=watchlist)
    page = Paginator(query, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    items = _with_sparklines(list(page.object_list))
    others = [wl for wl in selectors.watchlists_for(user) if wl.pk != watchlist.pk]
    return {
        "watchlist": watchlist,
        "summary": schedule_summary(watchlist),
        "page": page,
        "items": items,
        "others": others,
        "add_form": add_form or forms.AddUrlForm(),
        "rename_form": forms.WatchlistNameForm(initial={"name": watchlist.name}),
    }


@login_required
@require_GET
def watchlist_detail(request: HttpRequest, watchlist_id: int) -> HttpResponse:
    watchlist = _watchlist(request, watchlist_id)
    return render(request, "web/tracking/watchlist.html", _list_context(request, watchlist))


@login_required
@require_POST
def watchlist_rename(request: HttpRequest, watchlist_id: int) -> HttpResponse:
    watchlist = _watchlist(request, watchlist_id)
    form = forms.WatchlistNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A list needs a name.")
    else:
        try:
            services.update_watchlist(watchlist=watchlist, name=form.cleaned_data["name"])
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Renamed the list to '{watchlist.name}'.")
    return redirect("web:watchlist", watchlist_id=watchlist.pk)


@login_required
def watchlist_delete(request: HttpRequest, watchlist_id: int) -> HttpResponse:
    watchlist = _watchlist(request, watchlist_id)
    if request.method == "POST":
        name = watchlist.name
        services.delete_watchlist(watchlist=watchlist)
        messages.success(request, f"Deleted the list '{name}' and its items.")
        return redirect("web:watchlists")
    return render(request, "web/tracking/watchlist_delete.html", {"watchlist": watchlist})


@login_required
@require_POST
def watchlist_check(request: HttpRequest, watchlist_id: int) -> HttpResponse:
    watchlist = _watchlist(request, watchlist_id)
    fallback = reverse("web:watchlist", args=[watchlist.pk])
    try:
        result = services.check_watchlist_now(user=_user(request), watchlist=watchlist)
    except services.RateLimited as exc:
        return _feedback(request, exc.detail, error=True, fallback=fallback)
    return _feedback(request, _check_now_text(result), fallback=fallback)


# --- schedules ---------------------------------------------------------------------------------


def _schedule_initial(watchlist: Watchlist) -> dict[str, Any]:
    return {
        "kind": watchlist.schedule_kind,
        "times": ", ".join(watchlist.times or []),
        "weekdays": list(watchlist.weekdays or []),
        "time_zone": watchlist.time_zone,
        "interval_minutes": watchlist.interval_minutes,
    }


@dataclass(frozen=True, slots=True)
class Preview:
    time_zone: str = ""
    runs: tuple[datetime, ...] = ()
    error: str = ""


def _preview(user: User, form: forms.ScheduleForm) -> Preview:
    if not form.is_valid():
        problems = [
            f"{form.fields[name].label if name in form.fields else ''}: "
            f"{' '.join(str(error) for error in errors)}"
            for name, errors in form.errors.items()
        ]
        return Preview(error=" ".join(problems))
    spec = form.spec()
    try:
        checked = services.validate_schedule(owner=user, spec=spec)
    except DomainError as exc:
        return Preview(error=exc.detail)
    runs = schedules.next_runs(checked, timezone.now(), PREVIEW_RUNS)
    zone = checked.zone
    return Preview(time_zone=checked.time_zone, runs=tuple(run.astimezone(zone) for run in runs))


@login_required
def watchlist_schedule(request: HttpRequest, watchlist_id: int) -> HttpResponse:
    user = _user(request)
    watchlist = _watchlist(request, watchlist_id)
    status = 200
    if request.method == "POST":
        form = forms.ScheduleForm(request.POST)
        if form.is_valid():
            spec = form.spec()
            try:
                services.update_watchlist(watchlist=watchlist, schedule=spec)
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(request, f"Saved the schedule: {schedule_summary(watchlist)}.")
                return redirect("web:watchlist", watchlist_id=watchlist.pk)
        status = 422
    else:
        form = forms.ScheduleForm(initial=_schedule_initial(watchlist))
    bound = form if form.is_bound else forms.ScheduleForm(_schedule_initial_data(watchlist))
    context = {"watchlist": watchlist, "form": form, "preview": _preview(user, bound)}
    return render(request, "web/tracking/schedule.html", context, status=status)


def _schedule_initial_data(watchlist: Watchlist) -> dict[str, Any]:
    """The saved schedule as form data (to preview it before any edit)."""
    initial = _schedule_initial(watchlist)
    data: dict[str, Any] = {k: v for k, v in initial.items() if v not in (None, [])}
    data["weekdays"] = [str(day) for day in initial["weekdays"]]
    return data


@login_required
@require_POST
def schedule_preview(request: HttpRequest) -> HttpResponse:
    """The next runs of the schedule being edited (htmx fragment)."""
    preview = _preview(_user(request), forms.ScheduleForm(request.POST))
    return render(request, "web/tracking/_schedule_preview.html", {"preview": preview})


# --- items -------------------------------------------------------------------------------------


@login_required
@require_POST
def item_add(request: HttpRequest, watchlist_id: int) -> HttpResponse:
    """Add a URL; with htmx answer the new row (it polls until the first check is done)."""
    watchlist = _watchlist(request, watchlist_id)
    form = forms.AddUrlForm(request.POST)
    item = None
    if form.is_valid():
        try:
            item = services.add_item_by_url(watchlist=watchlist, url=form.cleaned_data["url"])
        except DomainError as exc:
            form.add_error("url", exc.detail)
    if item is None:
        if _is_htmx(request):
            response = render(request, "web/tracking/_add_error.html", {"form": form})
            response["HX-Retarget"] = "#add-url-error"
            response["HX-Reswap"] = "innerHTML"
            return response
        context = _list_context(request, watchlist, add_form=form)
        return render(request, "web/tracking/watchlist.html", context, status=422)
    if _is_htmx(request):
        # Read again: the first check may have run at commit, after the service read the item.
        return _row(request, _item(request, item.pk), others=None)
    messages.success(request, f"Added {item.offer.title or item.offer.url}.")
    return redirect("web:watchlist", watchlist_id=watchlist.pk)


def _row(request: HttpRequest, item: WatchItem, others: list[Watchlist] | None) -> HttpResponse:
    user = _user(request)
    if others is None:
        others = [wl for wl in selectors.watchlists_for(user) if wl.pk != item.watchlist_id]
    _with_sparklines([item])
    context = {"item": item, "others": others, "watchlist": item.watchlist}
    return render(request, "web/tracking/_item_row.html", context)


@login_required
@require_GET
def item_row(request: HttpRequest, item_id: int) -> HttpResponse:
    """One row of the list table (polled while the first check runs)."""
    return _row(request, _item(request, item_id), others=None)


@login_required
@require_POST
def item_remove(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item(request, item_id)
    watchlist_id = item.watchlist_id
    title = item.offer.title or item.offer.url or "the item"
    services.remove_item(item=item)
    messages.success(request, f"Removed {title} from the list.")
    return redirect("web:watchlist", watchlist_id=watchlist_id)


@login_required
@require_POST
def item_move(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item(request, item_id)
    origin = item.watchlist_id
    form = forms.MoveItemForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the list to move the item to.")
        return redirect("web:watchlist", watchlist_id=origin)
    try:
        target = selectors.get_watchlist(_user(request), form.cleaned_data["to"])
        services.move_item(item=item, to=target)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Moved to '{target.name}'.")
    return _back(request, reverse("web:watchlist", args=[origin]))


@login_required
@require_POST
def item_check(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item(request, item_id)
    fallback = reverse("web:item", args=[item.pk])
    try:
        result = services.check_item_now(user=_user(request), item=item)
    except services.RateLimited as exc:
        return _feedback(request, exc.detail, error=True, fallback=fallback)
    return _feedback(request, _check_now_text(result), fallback=fallback)


@login_required
@require_POST
def item_edit(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item(request, item_id)
    form = forms.ItemEditForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The target price must be a number, e.g. 19.99.")
    else:
        try:
            services.update_item(
                item=item,
                target_price=form.cleaned_data["target_price"],
                note=form.cleaned_data["note"],
            )
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Saved the target price and note.")
    return redirect("web:item", item_id=item.pk)


@login_required
@require_POST
def item_rule(request: HttpRequest, item_id: int) -> HttpResponse:
    """Add an alert rule for this item: at or below a price, or X % below the first price."""
    item = _item(request, item_id)
    form = forms.ItemRuleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a number for the price or the percentage.")
        return redirect("web:item", item_id=item.pk)
    kind = form.cleaned_data["kind"]
    try:
        alert_services.create_rule(
            owner=_user(request),
            kind=kind,
            scope=AlertRule.Scope.ITEM,
            item_id=item.pk,
            target_price=form.cleaned_data["target_price"] if kind == "target_price" else None,
            percent=form.cleaned_data["percent"] if kind == "drop_from_first" else None,
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Added the alert rule. You will get an e-mail when it fires.")
    return redirect("web:item", item_id=item.pk)


# --- the item page -----------------------------------------------------------------------------


@login_required
@require_GET
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    user = _user(request)
    item = _item(request, item_id)
    offer = item.offer
    context = {
        "item": item,
        "offer": offer,
        "page": _page_of(offer),
        "checking": pricewatch_tags.checking(item),
        "checks": list(selectors.checks_for(item)[:CHECK_LOG_SIZE]),
        "periods": pricing_selectors.availability_periods(offer),
        "rules": alert_selectors.rules_applying_to(user, item),
        "edit_form": forms.ItemEditForm(
            initial={"target_price": item.target_price, "note": item.note}
        ),
        "rule_form": forms.ItemRuleForm(initial={"percent": 30}),
        "ranges": list(CHART_RANGES),
    }
    return render(request, "web/tracking/item.html", context)


def _unix(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), time.min, tzinfo=UTC).timestamp())


def chart_data(offers: list[Offer], range_name: str, now: datetime) -> dict[str, Any]:
    """The chart payload: one series per offer (shop) on shared timestamps.

    7 days: every observation; longer: the daily close from the roll-up (a year is 365 rows).
    """
    days = CHART_RANGES[range_name]
    by_time: dict[int, dict[int, str | None]] = defaultdict(dict)
    currency = ""
    for index, offer in enumerate(offers):
        if days is None:
            start = offer.first_observed_at or now
            start = max(start, now - timedelta(days=pricing_selectors.MAX_RANGE_DAYS))
        else:
            start = now - timedelta(days=days)
        if days is not None and days <= 7:
            history = pricing_selectors.raw_history(offer, start, now)
            stamps = [
                int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
                for t in history.columns["t"]
            ]
            values = history.columns["price"]
        else:
            history = pricing_selectors.daily_history(offer, start, now)
            stamps = [_unix(t) for t in history.columns["t"]]
            values = history.columns["close"]
        currency = currency or history.currency or offer.currency
        for stamp, value in zip(stamps, values, strict=True):
            by_time[stamp][index] = value
        if history.count and offer.price is not None:
            # The line runs up to now at the current price (one day of history is a line too).
            by_time[int(now.timestamp())][index] = money.decimal_text(offer.price)
    times = sorted(by_time)
    first = offers[0] if offers else None
    return {
        "currency": currency,
        "t": times,
        "series": [
            {
                "label": offer.shop or "Price",
                "values": [by_time[stamp].get(index) for stamp in times],
            }
            for index, offer in enumerate(offers)
        ],
        "first": money.decimal_text(first.first_price) if first else None,
        "lowest": money.decimal_text(first.lowest_price) if first else None,
        "highest": money.decimal_text(first.highest_price) if first else None,
    }


@login_required
@require_GET
def item_chart(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item(request, item_id)
    range_name = request.GET.get("range", "30d")
    if range_name not in CHART_RANGES:
        return JsonResponse(
            {"detail": f"Unknown range '{range_name}'; use one of: {', '.join(CHART_RANGES)}."},
            status=400,
        )
    try:
        data = chart_data([item.offer], range_name, timezone.now())
    except DomainError as exc:
        return JsonResponse({"detail": exc.detail}, status=exc.status)
    return JsonResponse(data, json_dumps_params={"separators": (",", ":")})


urlpatterns: list[URLPattern | URLResolver] = [
    path("", home, name="home"),
    path("watchlists/", watchlists, name="watchlists"),
    path("watchlists/schedule-preview", schedule_preview, name="schedule_preview"),
    path("watchlists/<int:watchlist_id>/", watchlist_detail, name="watchlist"),
    path("watchlists/<int:watchlist_id>/rename", watchlist_rename, name="watchlist_rename"),
    path("watchlists/<int:watchlist_id>/delete", watchlist_delete, name="watchlist_delete"),
    path("watchlists/<int:watchlist_id>/check", watchlist_check, name="watchlist_check"),
    path("watchlists/<int:watchlist_id>/schedule", watchlist_schedule, name="watchlist_schedule"),
    path("watchlists/<int:watchlist_id>/items", item_add, name="item_add"),
    path("watchlists/items/<int:item_id>/", item_detail, name="item"),
    path("watchlists/items/<int:item_id>/row", item_row, name="item_row"),
    path("watchlists/items/<int:item_id>/chart", item_chart, name="item_chart"),
    path("watchlists/items/<int:item_id>/remove", item_remove, name="item_remove"),
    path("watchlists/items/<int:item_id>/move", item_move, name="item_move"),
    path("watchlists/items/<int:item_id>/check", item_check, name="item_check"),
    path("watchlists/items/<int:item_id>/edit", item_edit, name="item_edit"),
    path("watchlists/items/<int:item_id>/rules", item_rule, name="item_rule"),
]
