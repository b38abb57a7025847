"""The one door for prices.

Scraping, the offers service, dynamic pricing, feed imports and manual edits record prices here
and nowhere else. One call, one transaction: the PricePoints, the offer's current / first /
lowest / highest price, the daily roll-up, and a PriceChange row (the outbox) for every
observation that changed price, currency or availability. After commit the change ids go to the
subscribers of `pricing.events` (alerts, the live feed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from pricewatch.core import bulk, money
from pricewatch.core.errors import DomainError
from pricewatch.pricing import events
from pricewatch.pricing.models import Availability, Offer, PriceChange, PriceDay, PricePoint

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
    """Refuse what must never reach the history: negative or absurd prices, unknown currencies."""
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
    if currency:
        money.check_currency(currency)
    if observation.price is not None and not currency:
        raise DomainError("A price needs a currency.", code="invalid_currency")
    if observation.availability not in _AVAILABILITIES:
        raise DomainError(
            f"availability must be one of {', '.join(Availability.values)}.",
            code="invalid_availability",
        )


# --- the rule ------------------------------------------------------------------------------------


def apply_observation(offer: Offer, observation: Observation) -> PriceChange | None:
    """Move `offer`'s state by one observation (in memory); return the change it made, if any.

    A first sighting changes nothing a user has seen; a change of currency starts a new series
    (comparing 10 EUR with 1000 JPY would fire every alert there is).
    """
    at = _observed_at(observation)
    price = observation.price
    first_sighting = offer.observation_count == 0
    old_price, old_currency, old_availability = offer.price, offer.currency, offer.availability
    currency_changed = bool(
        price is not None and offer.currency and observation.currency != offer.currency
    )
    if price is not None:
        if currency_changed or offer.first_price is None:
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
        return None
    return PriceChange(
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


# --- the door ------------------------------------------------------------------------------------


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
    by_offer = _validated_by_offer(observations)
    with transaction.atomic():
        offers = bulk.lock_by_id(Offer, list(by_offer))
        missing = set(by_offer) - set(offers)
        if missing:
            raise DomainError(f"No offer with id {min(missing)}.", code="not_found", status=404)
        points: list[PointRow] = []
        changes: list[tuple[PriceChange, int]] = []  # with the index of its point
        for offer_id, sightings in by_offer.items():
            offer = offers[offer_id]
            for observation in sightings:
                change = apply_observation(offer, observation)
                if change is not None:
                    changes.append((change, len(points)))
                points.append(PointRow.of(offer_id, observation))
        point_ids = _insert_points(points)
        change_ids = _insert_changes([(change, point_ids[index]) for change, index in changes])
        _save_offer_states(list(offers.values()))
        _fold_into_days(points)
        events.announce_after_commit(change_ids)
    return Recorded(points=len(points), change_ids=change_ids)


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
    """Create offers like `create_offers` and return only their ids, in order: the bulk path
    (feed imports create offers by the hundred thousand; model instances cost ten times more)."""
    now = timezone.now()
    states: list[_NewOfferState] = []
    for spec in new_offers:
        state = _NewOfferState(
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
            apply_observation(state, spec.observation)  # type: ignore[arg-type]  # an Offer look-alike
        states.append(state)
    with transaction.atomic():
        ids = bulk.reserve_ids(Offer, len(states))
        for state, offer_id in zip(states, ids, strict=True):
            state.id = offer_id
        _insert_offers(states)
        points = [
            PointRow.of(offer_id, spec.observation)
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


# --- writing what the rule decided ---------------------------------------------------------------


class PointRow(NamedTuple):
    """A PricePoint to insert."""

    offer_id: int
    observed_at: datetime
    price: Decimal | None
    regular_price: Decimal | None
    currency: str
    availability: str
    method: str

    @classmethod
    def of(cls, offer_id: int, observation: Observation) -> PointRow:
        return cls(
            offer_id,
            _observed_at(observation),
            observation.price,
            observation.regular_price,
            observation.currency,
            observation.availability,
            observation.method[:32],
        )


_POINT_COLUMNS = ("id", *PointRow._fields)

# What a recorded observation moves on an offer.
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


class _NewOfferState:
    """A new offer's column values, what `apply_observation` moves, without a model instance."""

    id: int | None

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(_offer_defaults())
        self.__dict__.update(values)


@cache
def _offer_defaults() -> dict[str, Any]:
    return {item.attname: item.get_default() for item in bulk.concrete_fields(Offer)}


def _validated_by_offer(
    observations: Sequence[tuple[int, Observation]],
) -> dict[int, list[Observation]]:
    now = timezone.now()
    by_offer: dict[int, list[Observation]] = defaultdict(list)
    for offer_id, observation in observations:
        validate_observation(observation)
        if observation.observed_at is None:
            observation.observed_at = now
        by_offer[offer_id].append(observation)
    for sightings in by_offer.values():
        sightings.sort(key=_observed_at)
    return by_offer


def _observed_at(observation: Observation) -> datetime:
    assert observation.observed_at is not None
    return observation.observed_at


def _insert_offers(states: list[_NewOfferState]) -> None:
    fields = bulk.concrete_fields(Offer)
    prepare = bulk.preparer(fields)
    bulk.insert(Offer, [item.column for item in fields], [prepare(state) for state in states])


def _insert_points(points: list[PointRow]) -> list[int]:
    ids = bulk.reserve_ids(PricePoint, len(points))
    adapt = bulk.adapt_datetimes()
    rows = [
        (point_id, point.offer_id, adapt(point.observed_at), *point[2:])
        for point_id, point in zip(ids, points, strict=True)
    ]
    bulk.insert(PricePoint, _POINT_COLUMNS, rows)
    return ids


def _insert_changes(changes: list[tuple[PriceChange, int]]) -> list[int]:
    """Insert the changes, each pointing at its point's id; returns their ids in order."""
    ids = bulk.reserve_ids(PriceChange, len(changes))
    now = timezone.now()
    for (change, point_id), change_id in zip(changes, ids, strict=True):
        change.pk, change.point_id, change.created_at = change_id, point_id, now
    fields = bulk.concrete_fields(PriceChange)
    prepare = bulk.preparer(fields)
    bulk.insert(
        PriceChange, [item.column for item in fields], [prepare(change) for change, _ in changes]
    )
    return ids


def _save_offer_states(offers: list[Offer]) -> None:
    now = timezone.now()
    for offer in offers:
        offer.updated_at = now
    bulk.save_fields(offers, _STATE_FIELDS)


class _Day(NamedTuple):
    low: Decimal
    high: Decimal
    close: Decimal
    close_at: datetime
    currency: str
    availability: str
    points: int


_DAY_COLUMNS = ("offer_id", "day", *_Day._fields)


def _fold_into_days(points: Iterable[PointRow], *, new_offers: bool = False) -> None:
    """Merge points into PriceDay rows (UTC days): low / high widen, the latest point closes.

    For offers created in this transaction no day row can exist yet: a plain insert will do.
    """
    days: dict[tuple[int, date], _Day] = {}
    for point in points:
        price = point.price
        if price is None:
            continue
        key = (point.offer_id, point.observed_at.astimezone(UTC).date())
        day = days.get(key)
        if day is None:
            days[key] = _Day(
                price, price, price, point.observed_at, point.currency, point.availability, 1
            )
            continue
        later = point.observed_at >= day.close_at
        days[key] = _Day(
            low=min(day.low, price),
            high=max(day.high, price),
            close=price if later else day.close,
            close_at=point.observed_at if later else day.close_at,
            currency=point.currency if later else day.currency,
            availability=point.availability if later else day.availability,
            points=day.points + 1,
        )
    if not days:
        return
    adapt = bulk.adapt_datetimes()
    rows = [
        (offer_id, bulk.adapt_date(on), *day[:3], adapt(day.close_at), *day[4:])
        for (offer_id, on), day in days.items()
    ]
    bulk.insert(PriceDay, _DAY_COLUMNS, rows, on_conflict=None if new_offers else _merge_into_day())


def _merge_into_day() -> bulk.OnConflict:
    """Widen low / high; the later of the stored and the new close wins."""
    later = "excluded.close_at >= {table}.close_at"
    return bulk.OnConflict(
        target=("offer_id", "day"),
        update={
            "low": bulk.least("{table}.low", "excluded.low"),
            "high": bulk.greatest("{table}.high", "excluded.high"),
            **{
                column: f"CASE WHEN {later} THEN excluded.{column} ELSE {{table}}.{column} END"
                for column in ("close", "currency", "availability")
            },
            "close_at": f"CASE WHEN {later} THEN excluded.close_at ELSE {{table}}.close_at END",
            "points": "{table}.points + excluded.points",
        },
    )
