"""The one door for prices.

Scraping, the offers service, dynamic pricing, feed imports and manual edits all record prices
through `record_price` / `record_prices` (and create priced offers through `create_offers`).
Each call, in one transaction, writes the PricePoints, moves the offer's current / first / lowest /
highest price, folds the points into the daily roll-up, and leaves a PriceChange row for every
observation that changed price, currency or availability. After commit the change ids are handed
to the functions listed in PRICEWATCH_PRICE_CHANGE_CONSUMERS (alerts, the live feed), which
enqueue their own work.
"""

from __future__ import annotations

import logging
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.module_loading import import_string

from pricewatch.core.errors import DomainError
from pricewatch.pricing.models import Availability, Offer, PriceChange, PriceDay, PricePoint

logger = logging.getLogger(__name__)

# SQLite allows 32k bound variables per statement; PostgreSQL 65k. Chunk id lists below both.
CHUNK = 2000
MAX_PRICE = Decimal("99999999999999")


_AVAILABILITIES = frozenset(Availability.values)


@dataclass(slots=True)
class Observation:
    """One sighting of an offer's price. `price=None` means the page showed no price (often
    together with out-of-stock): the offer keeps its last price, availability still counts."""

    price: Decimal | None
    currency: str
    method: str
    availability: str = Availability.UNKNOWN
    regular_price: Decimal | None = None
    observed_at: datetime | None = None


@dataclass(slots=True)
class NewOffer:
    """An offer to create, optionally with its first observation."""

    kind: str
    title: str = ""
    url: str | None = None
    image_url: str = ""
    shop: str = ""
    observation: Observation | None = None
    offer: Offer | None = field(default=None, repr=False)  # filled in by create_offers


@dataclass(slots=True)
class Recorded:
    points: int = 0
    change_ids: list[int] = field(default_factory=list)


def validate_observation(observation: Observation) -> None:
    """Refuse what must never reach the history: negative or absurd prices, bad currency codes."""
    for name in ("price", "regular_price"):
        value = getattr(observation, name)
        if value is None:
            continue
        if not isinstance(value, Decimal) or not value.is_finite():
            raise DomainError(f"{name} must be a finite decimal number.", code="invalid_price")
        if value < 0:
            raise DomainError(f"{name} must not be negative.", code="invalid_price")
        if value > MAX_PRICE:
            raise DomainError(f"{name} is too large.", code="invalid_price")
    currency = observation.currency
    if currency and (len(currency) != 3 or not currency.isalpha() or not currency.isupper()):
        raise DomainError(
            f"currency must be an ISO 4217 code such as 'EUR', not '{currency}'.",
            code="invalid_currency",
        )
    if observation.price is not None and not currency:
        raise DomainError("A price needs a currency.", code="invalid_currency")
    if observation.availability not in _AVAILABILITIES:
        raise DomainError(
            f"availability must be one of {', '.join(Availability.values)}.",
            code="invalid_availability",
        )


def record_price(
    offer: Offer,
    *,
    price: Decimal | None,
    currency: str,
    method: str,
    availability: str = Availability.UNKNOWN,
    regular_price: Decimal | None = None,
    observed_at: datetime | None = None,
) -> PriceChange | None:
    """Record one observation of `offer`; returns the change it caused, if any.

    `offer` is refreshed from the database afterwards, so callers see the new state.
    """
    observation = Observation(
        price=price,
        currency=currency,
        method=method,
        availability=availability,
        regular_price=regular_price,
        observed_at=observed_at,
    )
    recorded = record_prices([(offer.pk, observation)])
    offer.refresh_from_db()
    if recorded.change_ids:
        return PriceChange.objects.get(pk=recorded.change_ids[0])
    return None


def record_prices(observations: Sequence[tuple[int, Observation]]) -> Recorded:
    """Record many observations (offer id, observation) in one transaction."""
    now = timezone.now()
    for _, observation in observations:
        validate_observation(observation)
        if observation.observed_at is None:
            observation.observed_at = now
    by_offer: dict[int, list[Observation]] = defaultdict(list)
    for offer_id, observation in observations:
        by_offer[offer_id].append(observation)
    for sightings in by_offer.values():
        sightings.sort(key=_observed_at)

    recorded = Recorded()
    with transaction.atomic():
        offers = _lock_offers(list(by_offer))
        missing = set(by_offer) - set(offers)
        if missing:
            raise DomainError(f"No offer with id {min(missing)}.", code="not_found", status=404)
        points: list[_PointRow] = []
        changes: list[PriceChange] = []
        for offer_id, sightings in by_offer.items():
            offer = offers[offer_id]
            for observation in sightings:
                change = _apply(offer, observation)
                points.append(_point_row(offer_id, observation))
                if change is not None:
                    changes.append(change)
                    change.point_id = len(points) - 1  # index for now; the id once reserved
        point_ids = _insert_points(points)
        if changes:
            change_ids = _reserve_ids(PriceChange, len(changes))
            for change, change_id in zip(changes, change_ids, strict=True):
                change.pk = change_id
                change.point_id = point_ids[change.point_id]
            _insert_changes(changes)
        _save_offer_states(list(offers.values()))
        _fold_into_days(points)
        recorded.points = len(points)
        recorded.change_ids = [change.pk for change in changes]
        _announce_after_commit(recorded.change_ids)
    return recorded


def create_offers(new_offers: Sequence[NewOffer]) -> list[Offer]:
    """Create offers, each with its first observation if given, in one transaction."""
    with transaction.atomic():
        ids = create_offer_ids(new_offers)
        found = Offer.objects.in_bulk(ids)
    offers = [found[offer_id] for offer_id in ids]
    for spec, offer in zip(new_offers, offers, strict=True):
        spec.offer = offer
    return offers


def create_offer_ids(new_offers: Sequence[NewOffer]) -> list[int]:
    """Create offers like `create_offers` and return only their ids, in order: the bulk path.

    Written with executemany under reserved ids and without model instances: bulk_create of
    wide rows costs ten times more, and feed imports create offers by the hundred thousand.
    """
    now = timezone.now()
    rows: list[_OfferRow] = []
    for spec in new_offers:
        offer = _OfferRow(
            kind=spec.kind,
            title=spec.title,
            url=spec.url,
            image_url=spec.image_url,
            shop=spec.shop,
            created_at=now,
            updated_at=now,
        )
        if spec.observation is not None:
            validate_observation(spec.observation)
            if spec.observation.observed_at is None:
                spec.observation.observed_at = now
            _apply(offer, spec.observation)  # type: ignore[arg-type]  # an Offer look-alike
        rows.append(offer)
    with transaction.atomic():
        ids = _reserve_ids(Offer, len(rows))
        for offer, offer_id in zip(rows, ids, strict=True):
            offer.id = offer_id
        _insert_offers(rows)
        points = [
            _point_row(offer_id, spec.observation)
            for spec, offer_id in zip(new_offers, ids, strict=True)
            if spec.observation is not None
        ]
        _insert_points(points)
        _fold_into_days(points, new_offers=True)
    return ids


def create_offer(
    *,
    kind: str,
    title: str = "",
    url: str | None = None,
    image_url: str = "",
    shop: str = "",
    observation: Observation | None = None,
) -> Offer:
    spec = NewOffer(
        kind=kind, title=title, url=url, image_url=image_url, shop=shop, observation=observation
    )
    return create_offers([spec])[0]


def describe_offer(*, offer: Offer, title: str, image_url: str, shop: str | None = None) -> None:
    """Update what an offer looks like (not its price): title, image, shop."""
    fields = []
    if title and title != offer.title:
        offer.title = title[:500]
        fields.append("title")
    if image_url and image_url != offer.image_url and len(image_url) <= 2048:
        offer.image_url = image_url
        fields.append("image_url")
    if shop is not None and shop != offer.shop:
        offer.shop = shop[:255]
        fields.append("shop")
    if fields:
        offer.save(update_fields=[*fields, "updated_at"])


# --- internals ---------------------------------------------------------------------------------


def _observed_at(observation: Observation) -> datetime:
    assert observation.observed_at is not None
    return observation.observed_at


def _lock_offers(ids: list[int]) -> dict[int, Offer]:
    offers: dict[int, Offer] = {}
    if connection.vendor == "postgresql":
        # PostgreSQL needs row locks so two workers recording the same offer do not lose
        # each other's lowest / highest. One array parameter instead of the ORM's IN list:
        # psycopg splits a query of 2,000 placeholders in Python on every call.
        table = connection.ops.quote_name(Offer._meta.db_table)
        # The table name comes from the model; the ids are one bound parameter.
        sql = f"SELECT * FROM {table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE"  # noqa: S608
        for start in range(0, len(ids), CHUNK):
            for offer in Offer.objects.raw(sql, [ids[start : start + CHUNK]]):
                offers[offer.pk] = offer
        return offers
    # SQLite serialises writers with IMMEDIATE transactions: no row locks to take.
    for start in range(0, len(ids), CHUNK):
        for offer in Offer.objects.filter(pk__in=ids[start : start + CHUNK]).order_by("pk"):
            offers[offer.pk] = offer
    return offers


class _OfferRow:
    """A new offer's column values: what `_apply` moves and `_insert_offers` writes, without
    the cost of a model instance."""

    id: int | None

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(_offer_defaults())
        self.__dict__.update(values)


@cache
def _offer_defaults() -> dict[str, Any]:
    return {field.attname: _concrete(field).get_default() for field in Offer._meta.concrete_fields}


# (offer id, observed at, price, regular price, currency, availability, method)
_PointRow = tuple[int, datetime, Decimal | None, Decimal | None, str, str, str]


def _point_row(offer_id: int, observation: Observation) -> _PointRow:
    return (
        offer_id,
        _observed_at(observation),
        observation.price,
        observation.regular_price,
        observation.currency,
        observation.availability,
        observation.method[:32],
    )


def _reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """Ids for `count` new rows of `model`, taken before inserting them with executemany.

    PostgreSQL hands them out from the table's sequence. On SQLite the caller holds the write
    lock (IMMEDIATE transactions), so the next ids past both the largest id and the
    AUTOINCREMENT counter are ours.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        quoted = connection.ops.quote_name(table)
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {quoted}")  # noqa: S608
        high = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        if row is not None:
            high = max(high, row[0])
    return list(range(high + 1, high + 1 + count))


def _datetime_adapter() -> Callable[[datetime], Any]:
    """The backend's datetime adaptation, memoised: a batch shares a handful of timestamps."""
    adapt = connection.ops.adapt_datetimefield_value
    seen: dict[datetime, Any] = {}

    def adapted(value: datetime) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = result = adapt(value)
            return result

    return adapted


def bulk_insert(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT many rows of `model`: COPY on PostgreSQL, executemany elsewhere.

    Django's psycopg backend binds parameters in Python, value by value; COPY streams rows
    through psycopg's C adapters. Values must already be what the database stores (datetimes
    adapted with the connection's ops on SQLite).
    """
    if not rows:
        return
    ops = connection.ops
    table = ops.quote_name(model._meta.db_table)
    names = ", ".join(ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Identifiers come from the model; the rows travel as COPY data, never as SQL.
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        # Identifiers come from the model; every value is a bound parameter.
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        for start in range(0, len(rows), 10 * CHUNK):
            cursor.executemany(sql, rows[start : start + 10 * CHUNK])


def _insert_offers(offers: list[_OfferRow]) -> None:
    fields = [_concrete(field) for field in Offer._meta.concrete_fields]
    values = operator.attrgetter(*(field.attname for field in fields))
    when = [i for i, field in enumerate(fields) if isinstance(field, models.DateTimeField)]
    adapt = _datetime_adapter()
    rows = []
    for offer in offers:
        row = list(values(offer))
        for index in when:
            if row[index] is not None:
                row[index] = adapt(row[index])
        rows.append(row)
    bulk_insert(Offer, [field.column for field in fields], rows)


def _insert_points(points: list[_PointRow]) -> list[int]:
    ids = _reserve_ids(PricePoint, len(points))
    adapt = _datetime_adapter()
    rows = [
        [point_id, offer_id, adapt(at), price, regular, currency, availability, method]
        for point_id, (offer_id, at, price, regular, currency, availability, method) in zip(
            ids, points, strict=True
        )
    ]
    columns = [
        "id",
        "offer_id",
        "observed_at",
        "price",
        "regular_price",
        "currency",
        "availability",
        "method",
    ]
    bulk_insert(PricePoint, columns, rows)
    return ids


def _insert_changes(changes: list[PriceChange]) -> None:
    now = timezone.now()
    fields = [_concrete(field) for field in PriceChange._meta.concrete_fields]
    rows = []
    for change in changes:
        change.created_at = now
        rows.append(
            [field.get_db_prep_save(getattr(change, field.attname), connection) for field in fields]
        )
    bulk_insert(PriceChange, [field.column for field in fields], rows)


def _apply(offer: Offer, observation: Observation) -> PriceChange | None:
    """Move `offer`'s state by one observation (in memory); return the change it made."""
    at = _observed_at(observation)
    price = observation.price
    first_sighting = offer.observation_count == 0
    old_price, old_currency, old_availability = offer.price, offer.currency, offer.availability
    currency_changed = bool(
        price is not None and offer.currency and observation.currency != offer.currency
    )
    if price is not None:
        if currency_changed or offer.first_price is None:
            # A shop that switches currency starts a new series: comparing 10 EUR with
            # 1000 JPY would fire every alert there is.
            offer.first_price, offer.first_observed_at = price, at
            offer.lowest_price, offer.lowest_observed_at = price, at
            offer.highest_price, offer.highest_observed_at = price, at
        else:
            assert offer.lowest_price is not None and offer.highest_price is not None
            if price < offer.lowest_price:
                offer.lowest_price, offer.lowest_observed_at = price, at
            if price > offer.highest_price:
                offer.highest_price, offer.highest_observed_at = price, at
        offer.price = price
        offer.regular_price = observation.regular_price
        offer.currency = observation.currency
    offer.availability = observation.availability
    offer.observation_count += 1
    if offer.last_observed_at is None or at >= offer.last_observed_at:
        offer.last_observed_at = at

    changed = (
        offer.price != old_price
        or offer.currency != old_currency
        or offer.availability != old_availability
    )
    if not changed:
        return None
    offer.last_changed_at = at
    if first_sighting:
        return None  # nothing changed from anything a user has seen
    change = PriceChange(
        offer=offer,
        observed_at=at,
        old_price=old_price,
        new_price=offer.price,
        old_currency=old_currency,
        new_currency=offer.currency,
        old_availability=old_availability,
        new_availability=offer.availability,
        first_price=offer.first_price,
    )
    return change


_STATE_FIELDS = (
    "title",
    "currency",
    "price",
    "regular_price",
    "availability",
    "first_price",
    "first_observed_at",
    "lowest_price",
    "lowest_observed_at",
    "highest_price",
    "highest_observed_at",
    "last_observed_at",
    "last_changed_at",
    "observation_count",
    "updated_at",
)


def _concrete(field: object) -> Field[Any, Any]:
    assert isinstance(field, Field)
    return field


def _save_offer_states(offers: list[Offer]) -> None:
    """One UPDATE per offer, sent with executemany: bulk_update's CASE chains grow quadratic."""
    if not offers:
        return
    now = timezone.now()
    ops = connection.ops
    meta = Offer._meta
    columns = [_concrete(meta.get_field(name)) for name in _STATE_FIELDS]
    assignments = ", ".join(f"{ops.quote_name(column.column)} = %s" for column in columns)
    # Identifiers come from the model; every value is a bound parameter.
    sql = f"UPDATE {ops.quote_name(meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608
    # Decimals, text and integers go to the driver as they are (as in bulk_insert); only
    # datetimes need the backend's adaptation. Field.get_db_prep_save costs ~10 us a value.
    values = operator.attrgetter(*(column.attname for column in columns))
    when = [i for i, column in enumerate(columns) if isinstance(column, models.DateTimeField)]
    adapt = _datetime_adapter()
    rows = []
    for offer in offers:
        offer.updated_at = now
        row = [*values(offer), offer.pk]
        for index in when:
            if row[index] is not None:
                row[index] = adapt(row[index])
        rows.append(row)
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _fold_into_days(points: Iterable[_PointRow], *, new_offers: bool = False) -> None:
    """Merge points into PriceDay rows: low / high widen, the latest point is the close.

    For offers created in this transaction no day row can exist yet: a plain insert will do.
    """
    days: dict[tuple[int, date], dict[str, Any]] = {}
    for offer_id, at, price, _regular, currency, availability, _method in points:
        if price is None:
            continue
        key = (offer_id, at.astimezone(UTC).date())
        day = days.get(key)
        if day is None:
            days[key] = {
                "low": price,
                "high": price,
                "close": price,
                "close_at": at,
                "currency": currency,
                "availability": availability,
                "points": 1,
            }
            continue
        day["low"] = min(day["low"], price)
        day["high"] = max(day["high"], price)
        day["points"] += 1
        if at >= day["close_at"]:
            day.update(close=price, close_at=at, currency=currency, availability=availability)
    if not days:
        return
    ops = connection.ops
    table = ops.quote_name(PriceDay._meta.db_table)
    smaller, larger = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    later = f"excluded.close_at >= {table}.close_at"
    # Identifiers come from the model; every value is a bound parameter.
    sql = (
        f"INSERT INTO {table} (offer_id, day, low, high, close, close_at, currency, availability, "  # noqa: S608
        "points) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (offer_id, day) DO UPDATE SET "
        f"low = {smaller}({table}.low, excluded.low), "
        f"high = {larger}({table}.high, excluded.high), "
        f"close = CASE WHEN {later} THEN excluded.close ELSE {table}.close END, "
        f"currency = CASE WHEN {later} THEN excluded.currency ELSE {table}.currency END, "
        f"availability = CASE WHEN {later} THEN excluded.availability "
        f"ELSE {table}.availability END, "
        f"close_at = CASE WHEN {later} THEN excluded.close_at ELSE {table}.close_at END, "
        f"points = {table}.points + excluded.points"
    )
    adapt = _datetime_adapter()
    rows = [
        [
            offer_id,
            ops.adapt_datefield_value(day),
            values["low"],
            values["high"],
            values["close"],
            adapt(values["close_at"]),
            values["currency"],
            values["availability"],
            values["points"],
        ]
        for (offer_id, day), values in days.items()
    ]
    if new_offers:
        columns = ["offer_id", "day", "low", "high", "close", "close_at", "currency"]
        bulk_insert(PriceDay, [*columns, "availability", "points"], rows)
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _announce_after_commit(change_ids: list[int]) -> None:
    if not change_ids:
        return
    consumers = getattr(settings, "PRICEWATCH_PRICE_CHANGE_CONSUMERS", [])

    def announce() -> None:
        for path in consumers:
            try:
                import_string(path)(change_ids)
            except Exception:
                # The rows stay in the outbox; a consumer's sweeper picks them up later.
                logger.exception("price-change consumer %s failed", path)

    transaction.on_commit(announce)
