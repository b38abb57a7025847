"""Template helpers for prices: money, change badges and inline SVG sparklines."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pricewatch.core import money

register = template.Library()

DASH = "\u2013"
MINUS = "\u2212"


@register.filter(name="money")
def price_text(value: Decimal | None, currency: str = "") -> str:
    """12.5, "EUR" -> "\u20ac12.50" in the active language; None -> a dash."""
    if value is None:
        return DASH
    locale = translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE)
    return money.format_money(value, currency or "", locale=locale)


@register.simple_tag
def change_badge(change: Decimal | float | None) -> SafeString | str:
    """A coloured "-35.0 %" badge for a fractional change (-0.35); green when cheaper."""
    if change is None:
        return ""
    percent = Decimal(str(change)) * 100
    if percent.copy_abs() < Decimal("0.05"):
        return format_html('<span class="change">{}</span>', "±0 %")
    kind, sign = ("down", MINUS) if percent < 0 else ("up", "+")
    label = "cheaper than first seen" if percent < 0 else "dearer than first seen"
    return format_html(
        '<span class="change {}" title="{}">{}{} %</span>',
        kind,
        label,
        sign,
        f"{percent.copy_abs():.1f}",
    )


@register.simple_tag
def sparkline(values: Sequence[Decimal | float | None], label: str = "") -> SafeString | str:
    """An inline SVG polyline of `values` (gaps skipped), 100 by 28, for tables."""
    points = [float(v) for v in values if v is not None]
    if len(points) < 2:
        return ""
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    step = 100 / (len(points) - 1)
    coords = " ".join(
        f"{index * step:.1f},{26 - (value - low) / span * 24:.1f}"
        for index, value in enumerate(points)
    )
    return format_html(
        '<svg class="spark" viewBox="0 0 100 28" role="img" aria-label="{}">'
        '<polyline points="{}"/></svg>',
        label or "price trend",
        coords,
    )


# --- tracking pages ----------------------------------------------------------------------------

STATUS_LABELS = {
    "ok": "Price found",
    "no_price": "No price found",
    "unconfirmed": "Price not confirmed",
    "error": "Check failed",
}


@register.filter
def status_label(status: str) -> str:
    """A page's last check status in plain words ("error" -> "Check failed")."""
    return STATUS_LABELS.get(status or "", "Not checked yet")


@register.filter
def checking(item: Any) -> bool:
    """Whether a watch item's page still waits for its first check."""
    offer = item.offer
    if offer.kind != "page":
        return False
    page = getattr(offer, "page", None)  # a missing Page raises an AttributeError subclass
    return page is not None and page.last_checked_at is None


@register.filter
def rule_text(rule: Any) -> str:
    """An alert rule in plain words: "Price at or below €20.00", "30 % below the first price"."""
    kind = rule.kind
    if kind == "drop_from_first":
        return f"{_percent(rule.percent)} % or more below the first price"
    if kind == "drop_from_previous":
        return f"{_percent(rule.percent)} % or more below the previous price"
    if kind == "target_price":
        if rule.target_price is None:
            return "At or below the item's target price"
        currency = rule.item.offer.currency if rule.item_id else ""
        return f"At or below {price_text(rule.target_price, currency)}"
    if kind == "lowest_in_days":
        return f"Lowest price in {rule.days} days"
    if kind == "back_in_stock":
        return "Back in stock"
    return str(rule.get_kind_display())


def _percent(value: Decimal | None) -> str:
    if value is None:
        return "?"
    return f"{value.normalize():f}"
