"""Evaluate price changes against alert rules, in bulk, reading the pricing outbox once.

One transaction per batch: lock the cursor, read the next PriceChange rows, find every (rule,
offer) they concern with three set-based queries (item, watchlist and all-items scopes), judge
each rule against its stored state, write the states that moved, the notifications of the rules
that fired, and move the cursor. Work per batch is proportional to the changes and the rules they
touch, never to the history.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from pricewatch.alerts import rules, timing
from pricewatch.alerts.models import (
    AlertPreferences,
    AlertRule,
    Channel,
    EvaluatedChange,
    EvaluationCursor,
    Notification,
    RuleState,
)
from pricewatch.core import bulk
from pricewatch.pricing.models import PriceChange, PriceDay
from pricewatch.tracking.models import WatchItem, Watchlist

logger = logging.getLogger(__name__)

CURSOR_NAME = "price-changes"
BATCH = 10_000
# A change older than this is assumed committed or gone: the cursor may move past it. Younger
# ids stay in EvaluatedChange, because on PostgreSQL a lower id can commit after a higher one.
SETTLE = timedelta(minutes=10)


class ChangeRow(NamedTuple):
    """A PriceChange as evaluation reads it: which change, of which offer, when, and its facts."""

    id: int
    offer_id: int
    observed_at: datetime
    facts: rules.ChangeFacts

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> ChangeRow:
        return cls(row[0], row[1], row[2], rules.ChangeFacts(*row[3:]))


# The PriceChange columns `ChangeRow.of` reads, in its order: every fact but the window low,
# which evaluation looks up itself.
CHANGE_COLUMNS = (
    "id",
    "offer_id",
    "observed_at",
    *(name for name in rules.ChangeFacts.__dataclass_fields__ if name != "window_low"),
)

NOTIFICATION_COLUMNS = (
    "owner_id",
    "rule_id",
    "channel_id",
    "offer_id",
    "item_id",
    "change_id",
    "dedupe_key",
    "kind",
    "fired_at",
    "old_price",
    "new_price",
    "reference_price",
    "currency",
    "percent",
    "availability",
    "status",
    "digest",
    "due_at",
    "claim",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
)


@dataclass(slots=True)
class Match:
    """A rule that covers an offer (through one or more of its owner's items)."""

    rule_id: int
    owner_id: int
    kind: str
    percent: Decimal | None
    rule_target: Decimal | None
    days: int | None
    cooldown_minutes: int | None
    offer_id: int
    item_id: int
    item_target: Decimal | None

    @property
    def target(self) -> Decimal | None:
        return self.rule_target if self.rule_target is not None else self.item_target


@dataclass(slots=True)
class Firing:
    match: Match
    change: ChangeRow
    verdict: rules.Verdict
    fired_at: datetime


@dataclass(slots=True)
class Result:
    changes: int = 0
    matches: int = 0
    fired: int = 0
    notifications: int = 0
    more: bool = False
    owners: set[int] = field(default_factory=set)


def pending_exists() -> bool:
    cursor = EvaluationCursor.objects.filter(name=CURSOR_NAME).first()
    last = cursor.last_change_id if cursor else 0
    return (
        PriceChange.objects.filter(id__gt=last)
        .exclude(id__in=EvaluatedChange.objects.values("change_id"))
        .exists()
    )


def evaluate_pending(*, limit: int = BATCH, now: datetime | None = None) -> Result:
    """Evaluate the next `limit` unevaluated price changes (one transaction)."""
    now = now or timezone.now()
    EvaluationCursor.objects.get_or_create(name=CURSOR_NAME)
    with transaction.atomic():
        # Serialises evaluators: two must never judge the same change or move the same state.
        cursor = EvaluationCursor.objects.select_for_update().get(name=CURSOR_NAME)
        rows = [
            ChangeRow.of(row)
            for row in PriceChange.objects.filter(id__gt=cursor.last_change_id)
            .exclude(id__in=EvaluatedChange.objects.values("change_id"))
            .order_by("id")
            .values_list(*CHANGE_COLUMNS)[:limit]
        ]
        result = evaluate(rows, now=now)
        result.more = len(rows) == limit
        bulk.insert(
            EvaluatedChange,
            ["change_id"],
            [(row.id,) for row in rows],
            on_conflict=bulk.OnConflict(target=("change_id",)),
        )
        _advance(cursor, processed_up_to=rows[-1].id if rows else None, more=result.more, now=now)
    return result


def _advance(
    cursor: EvaluationCursor, *, processed_up_to: int | None, more: bool, now: datetime
) -> None:
    """Move the cursor over every settled change; forget the done-marks it passes."""
    settled = PriceChange.objects.filter(
        id__gt=cursor.last_change_id, created_at__lt=now - SETTLE
    ).aggregate(top=Max("id"))["top"]
    if settled is None:
        return
    if more and processed_up_to is not None:
        # Changes above this batch are not evaluated yet, settled or not.
        settled = min(settled, processed_up_to)
    cursor.last_change_id = settled
    cursor.save(update_fields=["last_change_id", "updated_at"])
    EvaluatedChange.objects.filter(change_id__lte=settled).delete()


def evaluate(changes: Sequence[ChangeRow], *, now: datetime) -> Result:
    """Judge `changes` (in id order) and write what follows."""
    result = Result(changes=len(changes))
    if not changes:
        return result
    offer_ids = sorted({row.offer_id for row in changes})
    ensure_defaults_for_watchers(offer_ids)
    matches = _matches(offer_ids)
    result.matches = sum(len(found) for found in matches.values())
    if not matches:
        return result
    states = _states(offer_ids, matches)
    lows = _window_lows(changes, matches)

    firings: list[Firing] = []
    dirty: dict[tuple[int, int], State] = {}
    for change in changes:
        change_id, offer_id, observed_at = change.id, change.offer_id, change.observed_at
        for match in matches.get(offer_id, ()):
            low = lows.get((change_id, match.days)) if match.kind == rules.LOWEST_IN_DAYS else None
            facts = _facts(change, low)
            verdict = rules.judge(match.kind, facts, percent=match.percent, target=match.target)
            key = (match.rule_id, offer_id)
            state = states.get(key)
            cooldown = timedelta(minutes=match.cooldown_minutes) if match.cooldown_minutes else None
            fire = rules.fires(
                match.kind,
                verdict,
                was_active=state.active if state else None,
                last_fired_at=state.last_fired_at if state else None,
                cooldown=cooldown,
                now=observed_at,
            )
            if state is None and not fire:
                # Nothing to remember: without a state, the next change's old values (these
                # new ones) tell whether the condition held, so rows exist only for pairs that
                # fired once (they carry the last firing, for the cooldown).
                continue
            if state is None:
                state = State(rule_id=match.rule_id, offer_id=offer_id)
                states[key] = state
            elif state.active == verdict.now and not fire:
                continue
            state.active = verdict.now
            state.last_change = change_id
            if fire:
                state.fired_count += 1
                state.last_fired_at = observed_at
                firings.append(Firing(match, change, verdict, observed_at))
            dirty[key] = state

    _save_states(list(dirty.values()), now=now)
    result.fired = len(firings)
    result.notifications = _notify(firings, now=now, owners=result.owners)
    return result


def _save_states(states: list[State], *, now: datetime) -> None:
    adapt = bulk.adapt_datetimes()
    stamp = adapt(now)
    bulk.insert(
        RuleState,
        [
            "rule_id",
            "offer_id",
            "active",
            "fired_count",
            "last_fired_at",
            "last_change",
            "updated_at",
        ],
        [
            (
                state.rule_id,
                state.offer_id,
                state.active,
                state.fired_count,
                adapt(state.last_fired_at),
                state.last_change,
                stamp,
            )
            for state in states
        ],
        on_conflict=bulk.OnConflict(
            target=("rule_id", "offer_id"),
            update={
                column: f"excluded.{column}"
                for column in (
                    "active",
                    "fired_count",
                    "last_fired_at",
                    "last_change",
                    "updated_at",
                )
            },
        ),
    )


def _facts(change: ChangeRow, window_low: Decimal | None) -> rules.ChangeFacts:
    return change.facts if window_low is None else replace(change.facts, window_low=window_low)


# --- defaults ----------------------------------------------------------------------------------


def default_rule(owner_id: int) -> AlertRule:
    return AlertRule(
        owner_id=owner_id,
        kind=AlertRule.Kind.DROP_FROM_FIRST,
        scope=AlertRule.Scope.ALL,
        percent=Decimal(30),
        is_default=True,
    )


def ensure_defaults(owner_ids: Iterable[int]) -> None:
    """Give users seen for the first time their preferences, the default 30 % rule and an
    e-mail channel to their account address. Users who already have preferences keep whatever
    they changed (including a deleted or disabled default rule)."""
    wanted = set(owner_ids)
    if not wanted:
        return
    known = set(
        AlertPreferences.objects.filter(user_id__in=wanted).values_list("user_id", flat=True)
    )
    new = sorted(wanted - known)
    if not new:
        return
    AlertPreferences.objects.bulk_create(
        [AlertPreferences(user_id=owner_id) for owner_id in new], ignore_conflicts=True
    )
    # ignore_conflicts hides which rows another process created first; the partial unique index
    # keeps defaults single, and channels are only added for users without any.
    AlertRule.objects.bulk_create(
        [default_rule(owner_id) for owner_id in new], ignore_conflicts=True
    )
    with_channels = set(
        Channel.objects.filter(owner_id__in=new).values_list("owner_id", flat=True).distinct()
    )
    Channel.objects.bulk_create(
        [
            Channel(owner_id=owner_id, kind=Channel.Kind.EMAIL, name="My e-mail address")
            for owner_id in new
            if owner_id not in with_channels
        ],
        ignore_conflicts=True,
    )


def ensure_defaults_for_watchers(offer_ids: Sequence[int]) -> None:
    """Create the defaults of watchers of these offers who have none yet (usually nobody)."""
    ops = connection.ops
    item = ops.quote_name(WatchItem._meta.db_table)
    watchlist = ops.quote_name(Watchlist._meta.db_table)
    preferences = ops.quote_name(AlertPreferences._meta.db_table)
    owners: set[int] = set()
    for condition, params in bulk.in_conditions("wi.offer_id", offer_ids):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT wl.owner_id FROM {item} wi "  # noqa: S608
                f"JOIN {watchlist} wl ON wl.id = wi.watchlist_id "
                f"LEFT JOIN {preferences} p ON p.user_id = wl.owner_id "
                f"WHERE {condition} AND p.id IS NULL",
                params,
            )
            owners.update(row[0] for row in cursor.fetchall())
    if owners:
        ensure_defaults(owners)


# --- matching ----------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))  # SQLite hands numerics back as int or float


def _matches(offer_ids: Sequence[int]) -> dict[int, list[Match]]:
    """Every enabled rule covering each offer, one Match per (rule, offer).

    One statement with three branches, one per scope; raw SQL because the ORM's per-row
    conversions cost more than the query at tens of thousands of rows.
    """
    ops = connection.ops
    rule = ops.quote_name(AlertRule._meta.db_table)
    item = ops.quote_name(WatchItem._meta.db_table)
    watchlist = ops.quote_name(Watchlist._meta.db_table)
    columns = (
        "r.id, r.owner_id, r.kind, r.percent, r.target_price, r.days, r.cooldown_minutes, "
        "wi.offer_id, wi.id, wi.target_price"
    )
    found: dict[tuple[int, int], Match] = {}
    for condition, params in bulk.in_conditions("wi.offer_id", offer_ids):
        # Identifiers come from the models; values are bound parameters.
        sql = (
            f"SELECT {columns} FROM {item} wi JOIN {rule} r ON r.item_id = wi.id "  # noqa: S608
            f"WHERE {condition} AND r.enabled AND r.scope = 'item' "
            f"UNION ALL SELECT {columns} FROM {item} wi "
            f"JOIN {rule} r ON r.watchlist_id = wi.watchlist_id "
            f"WHERE {condition} AND r.enabled AND r.scope = 'watchlist' "
            f"UNION ALL SELECT {columns} FROM {item} wi "
            f"JOIN {watchlist} wl ON wl.id = wi.watchlist_id "
            f"JOIN {rule} r ON r.owner_id = wl.owner_id "
            f"WHERE {condition} AND r.enabled AND r.scope = 'all'"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params * 3)
            rows = cursor.fetchall()
        for row in rows:
            match = Match(
                row[0], row[1], row[2], _decimal(row[3]), _decimal(row[4]), row[5], row[6],
                row[7], row[8], _decimal(row[9]),
            )  # fmt: skip
            key = (match.rule_id, match.offer_id)
            seen = found.get(key)
            if seen is None:
                found[key] = match
                continue
            # The same offer in two of the user's lists: one alert, the first item's link, and
            # the most generous of the items' targets.
            if match.item_id < seen.item_id:
                seen.item_id = match.item_id
            if match.item_target is not None and (
                seen.item_target is None or match.item_target > seen.item_target
            ):
                seen.item_target = match.item_target
    by_offer: dict[int, list[Match]] = defaultdict(list)
    for match in found.values():
        by_offer[match.offer_id].append(match)
    return by_offer


@dataclass(slots=True)
class State:
    """A RuleState row, without the cost of a model instance per row."""

    rule_id: int
    offer_id: int
    active: bool = False
    fired_count: int = 0
    last_fired_at: datetime | None = None
    last_change: int | None = None


def _states(
    offer_ids: Sequence[int], matches: dict[int, list[Match]]
) -> dict[tuple[int, int], State]:
    wanted = {(match.rule_id, match.offer_id) for found in matches.values() for match in found}
    states: dict[tuple[int, int], State] = {}
    for chunk in bulk.chunks(offer_ids):
        query = RuleState.objects.filter(offer_id__in=chunk).values_list(
            "rule_id", "offer_id", "active", "fired_count", "last_fired_at", "last_change"
        )
        for row in query:
            key = (row[0], row[1])
            if key in wanted:
                states[key] = State(*row)
    return states


def _window_lows(
    changes: Sequence[ChangeRow], matches: dict[int, list[Match]]
) -> dict[tuple[int, int | None], Decimal]:
    """(change id, days) -> the lowest daily low of the change's offer in the N days up to the
    change's day (PriceDay, so one row per day however often the page is checked)."""
    windows: dict[int, set[int]] = defaultdict(set)
    for offer_id, found in matches.items():
        for match in found:
            if match.kind == rules.LOWEST_IN_DAYS and match.days:
                windows[match.days].add(offer_id)
    lows: dict[tuple[int, int | None], Decimal] = {}
    if not windows:
        return lows
    by_day: dict[date, list[ChangeRow]] = defaultdict(list)
    for change in changes:
        by_day[change.observed_at.astimezone(UTC).date()].append(change)
    for days, offers in windows.items():
        for day, day_changes in by_day.items():
            wanted = sorted(
                {change.offer_id for change in day_changes if change.offer_id in offers}
            )
            minimum: dict[tuple[int, str], Decimal] = {}
            for chunk in bulk.chunks(wanted):
                query = (
                    PriceDay.objects.filter(
                        offer_id__in=chunk,
                        day__gte=day - timedelta(days=days - 1),
                        day__lte=day,
                    )
                    .values_list("offer_id", "currency")
                    .annotate(low=Min("low"))
                )
                for offer_id, currency, low in query:
                    minimum[(offer_id, currency)] = low
            for change in day_changes:
                low = minimum.get((change.offer_id, change.facts.new_currency))
                if low is not None:
                    lows[(change.id, days)] = low
    return lows


# --- notifications -----------------------------------------------------------------------------


def _notify(firings: list[Firing], *, now: datetime, owners: set[int]) -> int:
    if not firings:
        return 0
    owner_ids = {firing.match.owner_id for firing in firings}
    channels: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for channel_id, owner_id, kind in Channel.objects.filter(
        owner_id__in=owner_ids, enabled=True
    ).values_list("id", "owner_id", "kind"):
        channels[owner_id].append((channel_id, kind))
    preferences = {
        row[0]: row[1:]
        for row in AlertPreferences.objects.filter(user_id__in=owner_ids).values_list(
            "user_id", "quiet_start", "quiet_end", "digest", "digest_hour", "user__time_zone"
        )
    }
    release: dict[int, tuple[datetime, datetime | None]] = {}
    for owner_id in owner_ids:
        quiet_start, quiet_end, digest, digest_hour, zone_name = preferences.get(
            owner_id, (None, None, False, 8, "UTC")
        )
        instant = timing.release_at(now, start=quiet_start, end=quiet_end, zone_name=zone_name)
        daily = (
            timing.next_digest_at(now, digest_hour, zone_name, quiet_start, quiet_end)
            if digest
            else None
        )
        release[owner_id] = (instant, daily)

    adapt = bulk.adapt_datetimes()
    stamp = adapt(now)
    rows: list[tuple[Any, ...]] = []
    for firing in firings:
        match, change, verdict = firing.match, firing.change, firing.verdict
        instant, daily = release[match.owner_id]
        fired_at = adapt(firing.fired_at)
        for channel_id, kind in channels.get(match.owner_id, ()):
            digest = daily is not None and kind == Channel.Kind.EMAIL
            due_at = daily if digest and daily else instant
            rows.append(
                (
                    match.owner_id,
                    match.rule_id,
                    channel_id,
                    match.offer_id,
                    match.item_id,
                    change.id,
                    # The change that fired the rule is the event: it is judged once per rule.
                    f"{match.rule_id}:{match.offer_id}:{change.id}:{channel_id}",
                    match.kind,
                    fired_at,
                    change.facts.old_price,
                    change.facts.new_price,
                    verdict.reference,
                    change.facts.new_currency or change.facts.old_currency,
                    verdict.percent,
                    change.facts.new_availability,
                    Notification.Status.QUEUED,
                    digest,
                    adapt(due_at),
                    "",
                    0,
                    "",
                    stamp,
                    stamp,
                )
            )
        owners.add(match.owner_id)
    bulk.insert(
        Notification,
        NOTIFICATION_COLUMNS,
        rows,
        on_conflict=bulk.OnConflict(target=("dedupe_key",)),
    )
    return len(rows)
