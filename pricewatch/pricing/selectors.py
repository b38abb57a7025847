"""Reads of offers and their price history: who may see what, daily and raw series, drops.

Who may read an offer (its detail and history):
- catalog and offers-service offers are public (the shop shows those prices to everyone);
- a tracked shop page (kind page) only to the users who watch it (it is on one of their lists)
  and to admins. Everyone else gets a 404, so nobody learns which URLs others track.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet

from pricewatch.core import money
from pricewatch.core.errors import DomainError, first_or_404
from pricewatch.pricing.models import Availability, Offer, PriceDay, PricePoint

PUBLIC_KINDS = (Offer.Kind.CATALOG, Offer.Kind.SERVICE)
MAX_RAW_POINTS = 10_000
MAX_RANGE_DAYS = 3700
DEFAULT_RANGE_DAYS = 365


def readable_offers(user: Any) -> QuerySet[Offer]:
    """Offers `user` (possibly anonymous) may read."""
    query = Offer.objects.all()
    if user is not None and getattr(user, "is_staff", False):
        return query
    public = Q(kind__in=PUBLIC_KINDS)
    if user is None or not getattr(user, "is_authenticated", False):
        return query.filter(public)
    # The watch relation is named from tracking's side; pricing does not import tracking.
    watched = Offer.objects.filter(watchers__watchlist__owner=user).values("pk")
    return query.filter(public | Q(pk__in=watched))


def get_readable_offer(user: Any, offer_id: int) -> Offer:
    return first_or_404(readable_offers(user), offer_id, noun="offer")


def offers_below_first(
    *, percent: Decimal = Decimal(30), offers: QuerySet[Offer] | None = None
) -> QuerySet[Offer]:
    """Offers whose current price is at least `percent` % below their first recorded price."""
    if not Decimal(0) < percent <= Decimal(100):
        raise DomainError(
            "The drop is a percentage above 0 and at most 100.",
            code="invalid",
            status=422,
            fields={"min_drop": "Above 0, at most 100."},
        )
    factor = (Decimal(100) - percent) / Decimal(100)
    base = Offer.objects.all() if offers is None else offers
    return base.filter(price__isnull=False, first_price__gt=0, price__lte=F("first_price") * factor)


@dataclass(slots=True)
class History:
    """A compact, columnar price series: `columns` maps a name to one list per column."""

    offer: Offer
    interval: str
    start: datetime
    end: datetime
    columns: dict[str, list[Any]] = field(default_factory=dict)
    # The series' currency when every row has the same one, else "" (see columns["currency"]).
    currency: str = ""

    @property
    def count(self) -> int:
        return len(self.columns.get("t", []))


def _as_instant(value: date | datetime | None, fallback: datetime, *, at: time) -> datetime:
    """A bound of a range: naive times are UTC; a date alone means `at` on that day."""
    if value is None:
        return fallback
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, at, tzinfo=UTC)


def _as_start(value: date | datetime | None, fallback: datetime) -> datetime:
    return _as_instant(value, fallback, at=time.min)


def _as_end(value: date | datetime | None, fallback: datetime) -> datetime:
    return _as_instant(value, fallback, at=time.max)  # a date as the end: the whole day


def history_range(
    start: date | datetime | None, end: date | datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Resolve from / to (dates or datetimes, UTC when naive); defaults: the last year."""
    end_at = _as_end(end, now)
    start_at = _as_start(start, end_at - timedelta(days=DEFAULT_RANGE_DAYS))
    if start_at > end_at:
        raise DomainError(
            "'from' must not be after 'to'.",
            code="invalid_range",
            fields={"from": "After 'to'."},
        )
    if end_at - start_at > timedelta(days=MAX_RANGE_DAYS):
        raise DomainError(
            f"The range is at most {MAX_RANGE_DAYS} days.",
            code="invalid_range",
            fields={"from": f"At most {MAX_RANGE_DAYS} days before 'to'."},
        )
    return start_at, end_at


def daily_history(offer: Offer, start: datetime, end: datetime) -> History:
    """One row per UTC day from the roll-up: low, high and close (the day's last price).

    Read with one plain query, prices rendered as text by the database: a year is 365 rows
    and building the payload must stay far below a chart's frame budget.
    """
    ops = connection.ops
    table = ops.quote_name(PriceDay._meta.db_table)
    columns_sql = ", ".join(
        f"CAST({ops.quote_name(name)} AS TEXT)" for name in ("day", "low", "high", "close")
    )
    # Identifiers come from the model; every value is a bound parameter.
    sql = (
        f"SELECT {columns_sql}, currency, availability FROM {table} "  # noqa: S608
        "WHERE offer_id = %s AND day >= %s AND day <= %s ORDER BY day"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                offer.pk,
                ops.adapt_datefield_value(start.astimezone(UTC).date()),
                ops.adapt_datefield_value(end.astimezone(UTC).date()),
            ],
        )
        rows = cursor.fetchall()
    columns: dict[str, list[Any]] = {
        "t": [row[0][:10] for row in rows],
        "low": [money.decimal_text_of_string(row[1]) for row in rows],
        "high": [money.decimal_text_of_string(row[2]) for row in rows],
        "close": [money.decimal_text_of_string(row[3]) for row in rows],
    }
    currency = _add_if_mixed(columns, "currency", [row[4] for row in rows])
    _add_if_mixed(columns, "availability", [row[5] for row in rows])
    return History(
        offer=offer,
        interval="day",
        start=start,
        end=end,
        columns=columns,
        currency=currency if rows else offer.currency,
    )


def raw_history(offer: Offer, start: datetime, end: datetime) -> History:
    """Every observation in the range (price null when the page showed none)."""
    rows = list(
        PricePoint.objects.filter(offer=offer, observed_at__gte=start, observed_at__lte=end)
        .order_by("observed_at", "id")
        .values_list("observed_at", "price", "currency", "availability")[: MAX_RAW_POINTS + 1]
    )
    if len(rows) > MAX_RAW_POINTS:
        raise DomainError(
            f"More than {MAX_RAW_POINTS} points in this range; narrow it or use interval=day.",
            code="too_many_points",
        )
    columns: dict[str, list[Any]] = {"t": [], "price": [], "availability": []}
    currencies: list[str] = []
    for observed_at, price, currency, available in rows:
        columns["t"].append(observed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"))
        columns["price"].append(money.decimal_text(price))
        columns["availability"].append(available)
        currencies.append(currency)
    # Points without a price often carry no currency; they do not make the series mixed.
    known = {code for code in currencies if code}
    if len(known) > 1:
        columns["currency"] = currencies
    currency = "" if len(known) > 1 else next(iter(known), "")
    return History(
        offer=offer,
        interval="raw",
        start=start,
        end=end,
        columns=columns,
        currency=currency if rows_seen(columns) else offer.currency,
    )


def rows_seen(columns: dict[str, list[Any]]) -> bool:
    return bool(columns.get("t"))


def _add_if_mixed(columns: dict[str, list[Any]], name: str, values: list[str]) -> str:
    """Keep a per-row column only when its values differ; returns the one value otherwise.

    Uniform columns are said once: only a change of currency or stock within the range needs
    a value per row, which keeps a year of daily data to a few kilobytes.
    """
    distinct = set(values)
    if len(distinct) > 1:
        columns[name] = values
        return ""
    return values[0] if values else ""


def history(
    offer: Offer,
    *,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    interval: str = "day",
    now: datetime,
) -> History:
    start_at, end_at = history_range(start, end, now)
    if interval == "raw":
        return raw_history(offer, start_at, end_at)
    if interval == "day":
        return daily_history(offer, start_at, end_at)
    raise DomainError(
        f"Unknown interval '{interval}'; use raw or day.",
        code="invalid",
        status=422,
        fields={"interval": "raw or day."},
    )


def daily_closes(offer_ids: list[int], *, days: int) -> dict[int, list[Decimal]]:
    """The last `days` daily closes of many offers (sparklines), in one query, oldest first."""
    if not offer_ids:
        return {}
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    closes: dict[int, list[Decimal]] = defaultdict(list)
    rows = (
        PriceDay.objects.filter(offer_id__in=offer_ids, day__gte=since)
        .order_by("offer_id", "day")
        .values_list("offer_id", "close")
    )
    for offer_id, close in rows:
        closes[offer_id].append(close)
    return closes


@dataclass(frozen=True, slots=True)
class Period:
    availability: str
    label: str
    start: date
    end: date


def availability_periods(offer: Offer) -> list[Period]:
    """Runs of days with the same availability (from the daily roll-up), newest first."""
    labels = dict(Availability.choices)
    periods: list[Period] = []
    rows = PriceDay.objects.filter(offer=offer).order_by("day").values_list("day", "availability")
    for day, availability in rows:
        if periods and periods[-1].availability == availability:
            last = periods[-1]
            periods[-1] = Period(last.availability, last.label, last.start, day)
        else:
            periods.append(Period(availability, str(labels.get(availability, "")), day, day))
    return periods[::-1]
