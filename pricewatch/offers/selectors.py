"""Reads: a product's service offers and price trends over their daily roll-ups."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import QuerySet
from django.utils import timezone

from pricewatch.offers.models import ServiceOffer
from pricewatch.pricing.models import PriceDay

DEFAULT_DAYS = 30


def product_offers(product_id: int, *, include_gone: bool = False) -> QuerySet[ServiceOffer]:
    rows = ServiceOffer.objects.filter(registration__product_id=product_id).select_related("offer")
    if not include_gone:
        rows = rows.filter(gone_at__isnull=True)
    return rows.order_by("offer__price", "pk")


@dataclass(frozen=True, slots=True)
class Trend:
    start: date
    end: date
    measure: str
    currency: str
    first: Decimal | None
    last: Decimal | None
    lowest: Decimal | None
    highest: Decimal | None
    change_percent: Decimal | None
    series: list[tuple[date, Decimal]]


def trend(
    offer_ids: list[int], *, start: date | None, end: date | None, measure: str = "lowest"
) -> Trend:
    """Per UTC day, the lowest (or average) closing price among the offers priced that day.

    An offer counts on the days it has a roll-up row: one that vanished stops counting after
    its last day, a new one counts from its first. The change is last day's value against the
    first day's, in percent.
    """
    end = end or timezone.now().date()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    by_day: dict[date, list[Decimal]] = defaultdict(list)
    currency = ""
    rows = PriceDay.objects.filter(
        offer_id__in=offer_ids, day__gte=start, day__lte=end
    ).values_list("day", "close", "currency")
    for day, close, row_currency in rows:
        by_day[day].append(close)
        currency = currency or row_currency
    series = []
    for day in sorted(by_day):
        closes = by_day[day]
        value = min(closes) if measure == "lowest" else sum(closes, Decimal(0)) / len(closes)
        series.append((day, value.quantize(Decimal("0.01"), ROUND_HALF_EVEN)))
    values = [value for _, value in series]
    first = values[0] if values else None
    last = values[-1] if values else None
    change = None
    if first and last is not None:
        change = ((last - first) / first * 100).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    return Trend(
        start=start,
        end=end,
        measure=measure,
        currency=currency,
        first=first,
        last=last,
        lowest=min(values) if values else None,
        highest=max(values) if values else None,
        change_percent=change,
        series=series,
    )
