"""Reports, read from the daily roll-ups only (never from raw visits), and the raw visit list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet, Sum

from pricewatch.analytics.models import ProductDay, SiteDay, Visit
from pricewatch.catalog.models import Product
from pricewatch.core.errors import DomainError


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


def period(start: date | None, end: date | None, *, today: date) -> Period:
    """Validated range: the last 30 days by default, ANALYTICS_MAX_RANGE_DAYS at most."""
    end = end or today
    start = start or end - timedelta(days=29)
    if start > end:
        raise DomainError(
            "'from' must not be after 'to'.", fields={"from": "After 'to'."}, code="invalid_range"
        )
    found = Period(start, end)
    if found.days > settings.ANALYTICS_MAX_RANGE_DAYS:
        raise DomainError(
            f"The range is {found.days} days; at most {settings.ANALYTICS_MAX_RANGE_DAYS} allowed.",
            fields={"from": "Too far before 'to'."},
            code="range_too_long",
        )
    return found


@dataclass(frozen=True)
class Summary:
    views: int
    visitor_days: int
    total_duration_seconds: int
    average_duration_seconds: float
    bounces: int
    bounce_rate: float


def _summary(totals: dict[str, int | None]) -> Summary:
    views = totals.get("views") or 0
    duration = totals.get("duration_seconds") or 0
    bounces = totals.get("bounces") or 0
    return Summary(
        views=views,
        visitor_days=totals.get("visitors") or 0,
        total_duration_seconds=duration,
        average_duration_seconds=round(duration / views, 1) if views else 0.0,
        bounces=bounces,
        bounce_rate=round(bounces / views, 4) if views else 0.0,
    )


_TOTALS = {
    "views": Sum("views"),
    "visitors": Sum("visitors"),
    "duration_seconds": Sum("duration_seconds"),
    "bounces": Sum("bounces"),
}


def summary(span: Period) -> Summary:
    return _summary(SiteDay.objects.filter(day__range=(span.start, span.end)).aggregate(**_TOTALS))


@dataclass(frozen=True)
class PopularRow:
    product_id: int
    title: str
    views: int
    visitor_days: int
    previous_views: int
    change: float | None  # relative change against the previous period; None when it had none


def popular(span: Period, *, limit: int) -> list[PopularRow]:
    top = list(
        ProductDay.objects.filter(day__range=(span.start, span.end))
        .values("product_id")
        .annotate(total=Sum("views"), people=Sum("visitors"))
        .order_by("-total", "product_id")[:limit]
    )
    # Titles for the top rows only: grouping by a joined title costs more than the sums.
    titles = dict(
        Product.objects.filter(pk__in=[row["product_id"] for row in top]).values_list("pk", "title")
    )
    before = span.previous()
    previous = dict(
        ProductDay.objects.filter(
            day__range=(before.start, before.end), product_id__in=[row["product_id"] for row in top]
        )
        .values("product_id")
        .annotate(total=Sum("views"))
        .values_list("product_id", "total")
    )
    rows = []
    for row in top:
        earlier = previous.get(row["product_id"], 0)
        rows.append(
            PopularRow(
                product_id=row["product_id"],
                title=titles.get(row["product_id"], ""),
                views=row["total"],
                visitor_days=row["people"],
                previous_views=earlier,
                change=round((row["total"] - earlier) / earlier, 4) if earlier else None,
            )
        )
    return rows


@dataclass(frozen=True)
class DayRow:
    day: date
    views: int
    visitor_days: int
    duration_seconds: int
    bounces: int


def product_days(product_id: int, span: Period) -> list[DayRow]:
    """One row per day of the range, zeros where nobody came."""
    stored = {
        row.day: row
        for row in ProductDay.objects.filter(
            product_id=product_id, day__range=(span.start, span.end)
        ).only("day", "views", "visitors", "duration_seconds", "bounces")
    }
    rows = []
    for offset in range(span.days):
        day = span.start + timedelta(days=offset)
        found = stored.get(day)
        rows.append(
            DayRow(day, found.views, found.visitors, found.duration_seconds, found.bounces)
            if found
            else DayRow(day, 0, 0, 0, 0)
        )
    return rows


def site_days(span: Period) -> list[DayRow]:
    stored = {row.day: row for row in SiteDay.objects.filter(day__range=(span.start, span.end))}
    return [
        DayRow(day, row.views, row.visitors, row.duration_seconds, row.bounces)
        if (row := stored.get(day))
        else DayRow(day, 0, 0, 0, 0)
        for day in (span.start + timedelta(days=offset) for offset in range(span.days))
    ]


def visits_of(product_id: int) -> QuerySet[Visit]:
    return Visit.objects.filter(product_id=product_id).order_by("-started_at", "-id")


def visit_count(product_id: int) -> int:
    return int(visits_of(product_id).aggregate(count=Count("id"))["count"])
