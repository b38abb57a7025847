"""The admin analytics page: traffic per day, popular products, traffic beside price."""

from __future__ import annotations

from datetime import UTC, date

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from pricewatch.analytics import selectors as analytics
from pricewatch.catalog.models import Product
from pricewatch.core.errors import DomainError


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _series(rows: list[analytics.DayRow]) -> dict[str, list[int | str]]:
    return {
        "days": [row.day.isoformat() for row in rows],
        "views": [row.views for row in rows],
        "visitors": [row.visitor_days for row in rows],
    }


@require_GET
@login_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    if not getattr(request.user, "is_staff", False):
        raise PermissionDenied("Only administrators can see visit analytics.")
    today = timezone.now().astimezone(UTC).date()
    error = ""
    try:
        span = analytics.period(
            _date(request.GET.get("from", "")), _date(request.GET.get("to", "")), today=today
        )
    except DomainError as refused:
        error = refused.detail
        span = analytics.period(None, None, today=today)
    product = None
    product_id = request.GET.get("product", "")
    if product_id.isdigit():
        product = Product.objects.filter(pk=int(product_id)).select_related("offer").first()
    site = analytics.site_days(span)
    context = {
        "span": span,
        "error": error,
        "summary": analytics.summary(span),
        "popular": analytics.popular(span, limit=20),
        "site_series": _series(site),
        "product": product,
        "product_series": _series(analytics.product_days(product.pk, span)) if product else None,
    }
    return render(request, "web/analytics/page.html", context, status=400 if error else 200)


urlpatterns: list[URLPattern] = [path("analytics/", analytics_page, name="analytics")]
