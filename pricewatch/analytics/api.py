"""Visit analytics: admin reports from the daily roll-ups, and the product page's beacons."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from pricewatch.analytics import recording, selectors
from pricewatch.catalog.models import Product
from pricewatch.core.api import ErrorOut
from pricewatch.core.auth import staff_access_token
from pricewatch.core.errors import DomainError, code_for_status, first_or_404

router = Router(tags=["analytics"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class RangeQuery(Schema):
    start: date | None = Field(
        None, alias="from", description="First UTC day (default: 29 days before 'to')."
    )
    end: date | None = Field(
        None, alias="to", description="Last UTC day, included (default: today)."
    )


class PopularQuery(RangeQuery):
    limit: int = Field(10, ge=1, le=100)


class DailyQuery(RangeQuery):
    interval: Literal["day"] = "day"


class VisitsQuery(Schema):
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=100)


class SummaryOut(Schema):
    start: date
    end: date
    views: int
    visitor_days: int = Field(description="Unique visitors per day, summed over the days.")
    average_duration_seconds: float
    bounces: int
    bounce_rate: float


class PopularRowOut(Schema):
    product_id: int
    title: str
    views: int
    visitor_days: int
    previous_views: int
    change: float | None = Field(description="(views - previous) / previous; null if none before.")


class PopularOut(Schema):
    start: date
    end: date
    previous_start: date
    previous_end: date
    results: list[PopularRowOut]


class DayOut(Schema):
    day: date
    views: int
    visitor_days: int
    duration_seconds: int
    bounces: int


class ProductDailyOut(Schema):
    product_id: int
    start: date
    end: date
    interval: str
    days: list[DayOut]


class VisitOut(Schema):
    id: int
    started_at: datetime
    duration_seconds: int
    bounced: bool
    visitor: str = Field(description="The day's pseudonymous visitor id (not reversible).")
    session: str
    referrer_host: str
    agent_family: str
    source: str


class VisitPageOut(Schema):
    count: int
    page: int
    page_size: int
    results: list[VisitOut]


def _span(query: RangeQuery) -> selectors.Period:
    return selectors.period(query.start, query.end, today=timezone.now().astimezone(UTC).date())


def _product(product_id: int) -> Product:
    return first_or_404(Product.objects.all(), product_id, noun="product")


@router.get(
    "/analytics/summary",
    auth=staff_access_token,
    response={200: SummaryOut, **ERRORS},
    summary="Views, visitor-days, average visit duration and bounce rate over a range",
)
def analytics_summary(request: HttpRequest, query: Query[RangeQuery]) -> dict[str, Any]:
    span = _span(query)
    found = selectors.summary(span)
    return {"start": span.start, "end": span.end, **found.__dict__}


@router.get(
    "/analytics/popular",
    auth=staff_access_token,
    response={200: PopularOut, **ERRORS},
    summary="Products by views, with the change against the previous period of the same length",
)
def analytics_popular(request: HttpRequest, query: Query[PopularQuery]) -> dict[str, Any]:
    span = _span(query)
    before = span.previous()
    return {
        "start": span.start,
        "end": span.end,
        "previous_start": before.start,
        "previous_end": before.end,
        "results": selectors.popular(span, limit=query.limit),
    }


@router.get(
    "/analytics/products/{int:product_id}",
    auth=staff_access_token,
    response={200: ProductDailyOut, **ERRORS},
    summary="A product's daily views, visitor-days, duration and bounces",
)
def analytics_product(
    request: HttpRequest, product_id: int, query: Query[DailyQuery]
) -> dict[str, Any]:
    product = _product(product_id)
    span = _span(query)
    return {
        "product_id": product.pk,
        "start": span.start,
        "end": span.end,
        "interval": query.interval,
        "days": selectors.product_days(product.pk, span),
    }


@router.get(
    "/analytics/products/{int:product_id}/daily.csv",
    auth=staff_access_token,
    response={200: None, **ERRORS},
    summary="The same daily stats as CSV",
)
def analytics_product_csv(
    request: HttpRequest, product_id: int, query: Query[DailyQuery]
) -> HttpResponse:
    product = _product(product_id)
    span = _span(query)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "views", "visitor_days", "duration_seconds", "bounces"])
    for row in selectors.product_days(product.pk, span):
        writer.writerow(
            [row.day.isoformat(), row.views, row.visitor_days, row.duration_seconds, row.bounces]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="product-{product.pk}-{span.start}-{span.end}.csv"'
    )
    return response


@router.get(
    "/analytics/products/{int:product_id}/visits",
    auth=staff_access_token,
    response={200: VisitPageOut, **ERRORS},
    summary="A product's raw visits, newest first (kept ANALYTICS_RETENTION_DAYS)",
)
def analytics_product_visits(
    request: HttpRequest, product_id: int, query: Query[VisitsQuery]
) -> dict[str, Any]:
    product = _product(product_id)
    visits = selectors.visits_of(product.pk)
    start = (query.page - 1) * query.page_size
    return {
        "count": visits.count(),
        "page": query.page,
        "page_size": query.page_size,
        "results": list(visits[start : start + query.page_size]),
    }


def _beacon(request: HttpRequest, key: str) -> HttpResponse:
    try:
        recording.record_beacon(request, key=key)
    except recording.BeaconRefused as refused:
        raise DomainError(
            refused.detail, status=refused.status, code=code_for_status(refused.status)
        ) from refused
    return HttpResponse(status=204)


@router.post(
    "/visits/{key}/heartbeat",
    response={204: None, **ERRORS, 429: ErrorOut},
    summary="The product page is still visible (sent every 15 s)",
)
def visit_heartbeat(request: HttpRequest, key: str) -> HttpResponse:
    return _beacon(request, key)


@router.post(
    "/visits/{key}/end",
    response={204: None, **ERRORS, 429: ErrorOut},
    summary="The visitor left the product page (navigator.sendBeacon); any body is ignored",
)
def visit_end(request: HttpRequest, key: str) -> HttpResponse:
    return _beacon(request, key)
