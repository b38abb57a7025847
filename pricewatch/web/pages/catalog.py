"""Web pages: the public catalog (list with facets, product detail and its chart) and, for
admins, the feed upload with live progress and the import report.

Views parse a form, call the catalog's selectors or one service, and render; the rules live
in `pricewatch.catalog` (the same functions the API calls).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, Final

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pricewatch.accounts.models import User
from pricewatch.analytics import recording as analytics
from pricewatch.catalog import imports, prices, selectors, tasks
from pricewatch.catalog.filters import FACET_FIELDS, ProductFilters
from pricewatch.catalog.models import ImportItem, ImportJob, Product
from pricewatch.core import money
from pricewatch.core.errors import DomainError
from pricewatch.pricing import selectors as pricing
from pricewatch.pricing.models import Availability, Offer
from pricewatch.tracking import selectors as tracking_selectors
from pricewatch.tracking import services as tracking
from pricewatch.web.forms_catalog import (
    DEFAULT_SORT,
    CatalogFilterForm,
    FeedUploadForm,
    facet_values,
)

PAGE_SIZE: Final = 24
REPORT_PAGE_SIZE: Final = 50
IMPORTS_PAGE_SIZE: Final = 20
RESULTS_ID: Final = "catalog-results"
FACET_LABELS: Final = {
    "brand": "Brand",
    "category": "Category",
    "gender": "Gender",
    "condition": "Condition",
    "availability": "Availability",
    "color": "Colour",
    "size": "Size",
}
VALUE_LABELS: Final[dict[str, dict[str, str]]] = {
    "availability": dict(Availability.choices),
    "gender": {"male": "Men", "female": "Women", "unisex": "Unisex"},
    "condition": {"new": "New", "refurbished": "Refurbished", "used": "Used"},
}
# Chart ranges: how far back, and whether every observation (raw) or daily closes are drawn.
RANGES: Final[dict[str, tuple[timedelta | None, str]]] = {
    "7d": (timedelta(days=7), "raw"),
    "30d": (timedelta(days=30), "day"),
    "1y": (timedelta(days=365), "day"),
    "all": (None, "day"),
}


def _is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in first (redirect and back), then admins only (403 for everyone else)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not _is_staff(request.user):
            raise PermissionDenied("Only administrators can import product feeds.")
        return view(request, *args, **kwargs)

    return wrapped


# --- the list ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Card:
    """One product of the list, with its price and availability as the card shows them."""

    product: Product
    offer: Offer
    on_sale: bool
    availability: str  # the feed's words; "" when unknown (no pill)
    availability_label: str


def _on_sale(offer: Offer) -> bool:
    """Whether the current price is a sale (the offer keeps the list price meanwhile)."""
    return (
        offer.regular_price is not None
        and offer.price is not None
        and offer.price < offer.regular_price
    )


def _card(product: Product) -> Card:
    availability = prices.listing_of(product.offer).availability
    return Card(
        product=product,
        offer=product.offer,
        on_sale=_on_sale(product.offer),
        availability=availability,
        availability_label=VALUE_LABELS["availability"].get(availability, availability),
    )


def _value_id(facet: str, value: str) -> str:
    # Stable ids keep keyboard focus on a check-box across htmx swaps.
    return f"f-{facet}-{hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()[:10]}"


def _facet_groups(facets: selectors.Facets, chosen: dict[str, tuple[str, ...]]) -> list[Any]:
    groups = []
    for name in FACET_FIELDS:
        facet = facets.facets[name]
        ticked = set(chosen[name])
        labels = VALUE_LABELS.get(name, {})
        values = [
            {
                "value": item.value,
                "label": labels.get(item.value, item.value),
                "count": item.count,
                "checked": item.value in ticked,
                "id": _value_id(name, item.value),
            }
            for item in facet.values
        ]
        listed = {item.value for item in facet.values}
        # A ticked value nothing matches any more stays visible, so it can be unticked.
        values += [
            {
                "value": value,
                "label": labels.get(value, value),
                "count": 0,
                "checked": True,
                "id": _value_id(name, value),
            }
            for value in chosen[name]
            if value not in listed
        ]
        if values:
            groups.append(
                {
                    "name": name,
                    "label": FACET_LABELS[name],
                    "values": values,
                    "more": facet.more,
                    "active": bool(ticked),
                }
            )
    return groups


def _chips(request: HttpRequest, chosen: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    """The active facet filters, each with a link that removes just it."""
    chips = []
    for name, values in chosen.items():
        for value in values:
            params = request.GET.copy()
            params.pop("page", None)
            kept = [v for v in params.getlist(name) if v.strip() != value]
            params.setlist(name, kept)
            if name == "color":
                params.setlist("colour", [v for v in params.getlist("colour") if v != value])
            label = VALUE_LABELS.get(name, {}).get(value, value)
            chips.append(
                {
                    "label": f"{FACET_LABELS[name]}: {label}",
                    "url": f"{request.path}?{params.urlencode()}",
                }
            )
    return chips


@require_GET
def catalog_list(request: HttpRequest) -> HttpResponse:
    form = CatalogFilterForm(request.GET)
    valid = form.is_valid()
    data: dict[str, Any] = form.cleaned_data if valid else {}
    if not valid:
        # Keep what parsed; drop only the fields in error (shown next to them).
        data = {key: value for key, value in form.cleaned_data.items() if key not in form.errors}
    chosen = facet_values(request.GET)
    filters = ProductFilters(
        brand=chosen["brand"],
        category=chosen["category"],
        gender=chosen["gender"],
        condition=chosen["condition"],
        availability=chosen["availability"],
        color=chosen["color"],
        size=chosen["size"],
        price_min=data.get("price_min"),
        price_max=data.get("price_max"),
        q=data.get("q") or "",
    )
    sort = data.get("sort") or DEFAULT_SORT
    page_number = data.get("page") or 1
    try:
        page = selectors.product_page(
            filters=filters,
            ordering=selectors.parse_ordering(sort),
            page=page_number,
            page_size=PAGE_SIZE,
        )
    except DomainError as error:
        if error.code == "invalid_page":
            raise Http404(error.detail) from error
        raise
    facets = selectors.cached_product_facets(filters)
    context = {
        "form": form,
        "page": page,
        "cards": [_card(product) for product in page.items],
        "facet_groups": _facet_groups(facets, chosen),
        "chips": _chips(request, chosen),
        "filtered": any(chosen.values())
        or bool(filters.q)
        or filters.price_min is not None
        or filters.price_max is not None,
        "results_id": RESULTS_ID,
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == RESULTS_ID:
        return render(request, "web/catalog/_results.html", context)
    return render(request, "web/catalog/list.html", context)


# --- one product ---------------------------------------------------------------------------


def _visible_product(request: HttpRequest, product_id: int) -> Product:
    try:
        product = selectors.product_detail(product_id=product_id)
    except DomainError as error:
        raise Http404(error.detail) from error
    if not product.active and not _is_staff(request.user):
        raise Http404("No such product.")
    return product


def _attributes(product: Product) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("SKU", product.sku),
        ("GTIN", product.gtin),
        ("MPN", product.mpn),
        ("Brand", product.brand),
        ("Category", product.category),
        ("Google product category", product.google_product_category),
        ("Gender", VALUE_LABELS["gender"].get(product.gender, product.gender)),
        ("Condition", VALUE_LABELS["condition"].get(product.condition, product.condition)),
        ("Age group", product.age_group),
        ("Colour", product.color),
        ("Size", product.size),
        ("Quantity", product.quantity),
    ]
    rows += [
        (str(key).replace("_", " ").capitalize(), value) for key, value in product.extra.items()
    ]
    return [(label, value) for label, value in rows if value not in ("", None, [], {})]


@require_GET
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _visible_product(request, product_id)
    user = request.user
    watchlists = (
        list(tracking_selectors.watchlists_for(user))
        if isinstance(user, User) and user.is_authenticated
        else []
    )
    offer = product.offer
    context = {
        "product": product,
        "offer": offer,
        "currency": offer.currency,
        "availability_label": dict(Availability.choices).get(
            offer.availability, offer.availability
        ),
        "attributes": _attributes(product),
        "watchlists": watchlists,
        "on_sale": _on_sale(offer),
        "visit_key": analytics.record_view(request, product_id=product.pk),
    }
    return render(request, "web/catalog/detail.html", context)


@login_required
@require_POST
def watch_product(request: HttpRequest, product_id: int) -> HttpResponse:
    """Add the product to one of the user's lists (or to a new list named in the form)."""
    user = request.user
    assert isinstance(user, User)
    product = _visible_product(request, product_id)
    back = reverse("web:catalog_product", args=[product.pk])
    choice = request.POST.get("watchlist", "")
    new_name = request.POST.get("new_list", "").strip()
    try:
        with transaction.atomic():
            if choice == "new" or (not choice and new_name):
                watchlist = tracking.create_watchlist(owner=user, name=new_name or "My list")
            else:
                if not choice.isdigit():
                    raise DomainError("Choose a list to add the product to.")
                watchlist = tracking_selectors.get_watchlist(user, int(choice))
            tracking.add_item_by_product(watchlist=watchlist, product_id=product.pk)
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect(back)
    messages.success(
        request, f"Added to your list '{watchlist.name}'. You'll see price changes there."
    )
    return redirect(back)


def _unix(day_or_time: str) -> int:
    """'2025-01-31' (a UTC day) or an ISO time ('...Z') to unix seconds."""
    text = day_or_time.replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def chart_payload(offer: Offer, range_name: str, now: datetime) -> dict[str, Any]:
    """What chart.js draws: unix times, one series (the shop's price), first/lowest/highest."""
    span, interval = RANGES[range_name]
    # "all": as far back as the history reads (back-dated observations can precede the
    # offer's first recording, so its first_observed_at is no bound).
    start = now - (span or timedelta(days=pricing.MAX_RANGE_DAYS))
    try:
        history = pricing.history(offer, start=start, end=now, interval=interval, now=now)
    except DomainError as error:
        if error.code != "too_many_points":
            raise
        history = pricing.history(offer, start=start, end=now, interval="day", now=now)
    column = "price" if history.interval == "raw" else "close"
    times = [_unix(value) for value in history.columns.get("t", [])]
    values = list(history.columns.get(column, []))
    if times and offer.price is not None and int(now.timestamp()) - times[-1] >= 3600:
        # The price holds until now: draw the line up to today, not to the last change.
        times.append(int(now.timestamp()))
        values.append(money.decimal_text(offer.price))
    return {
        "currency": history.currency or offer.currency,
        "t": times,
        "series": [{"label": offer.shop or "Price", "values": values}],
        "first": money.decimal_text(offer.first_price),
        "lowest": money.decimal_text(offer.lowest_price),
        "highest": money.decimal_text(offer.highest_price),
    }


@require_GET
def product_chart(request: HttpRequest, product_id: int) -> JsonResponse:
    product = _visible_product(request, product_id)
    range_name = request.GET.get("range", "30d")
    if range_name not in RANGES:
        allowed = ", ".join(RANGES)
        return JsonResponse(
            {"detail": f"Unknown range '{range_name}'. Allowed: {allowed}.", "code": "invalid"},
            status=400,
        )
    payload = chart_payload(product.offer, range_name, timezone.now())
    return JsonResponse(payload, json_dumps_params={"separators": (",", ":")})


# --- feed imports (admins) -----------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def imports_page(request: HttpRequest) -> HttpResponse:
    form = FeedUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = imports.start_import(
                upload=upload,
                filename=upload.name or "",
                dry_run=form.cleaned_data["dry_run"],
                user=request.user,
            )
        except DomainError as error:
            form.add_error("file", error.detail)
        else:
            tasks.queue_import(job.pk)
            return redirect("web:catalog_import", job_id=job.pk)
    jobs = Paginator(
        ImportJob.objects.select_related("created_by").order_by("-created_at", "-pk"),
        IMPORTS_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "jobs": jobs, "max_upload": int(settings.MAX_UPLOAD_BYTES)}
    return render(request, "web/catalog/imports.html", context, status=status)


def _progress(job: ImportJob) -> dict[str, Any]:
    counts = imports.summary(job)
    return {"job": job, "counts": counts, "percent": _percent(job)}


def _percent(job: ImportJob) -> int | None:
    if job.finished:
        return 100
    if not job.total:
        return None
    return min(100, round(100 * job.processed / job.total))


@staff_required
@require_GET
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=job_id)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "job-progress":
        if job.finished:
            # The report needs the whole page: load it once, which also ends the polling.
            response = HttpResponse(status=200)
            response["HX-Refresh"] = "true"
            return response
        return render(request, "web/catalog/_import_progress.html", _progress(job))
    outcome = request.GET.get("outcome", "")
    if outcome not in ImportItem.Outcome.values:
        outcome = ""
    items = ImportItem.objects.filter(job=job).order_by("line", "pk")
    if outcome:
        items = items.filter(outcome=outcome)
    report = Paginator(items, REPORT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **_progress(job),
        "report": report,
        "outcome": outcome,
        "outcomes": ImportItem.Outcome.choices,
    }
    return render(request, "web/catalog/import_job.html", context)


urlpatterns: list[URLPattern | URLResolver] = [
    path("catalog/", catalog_list, name="catalog"),
    path("catalog/<int:product_id>/", product_detail, name="catalog_product"),
    path("catalog/<int:product_id>/chart", product_chart, name="catalog_chart"),
    path("catalog/<int:product_id>/watch", watch_product, name="catalog_watch"),
    path("catalog/imports/", imports_page, name="catalog_imports"),
    path("catalog/imports/<int:job_id>/", import_job, name="catalog_import"),
]
