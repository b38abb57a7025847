"""When does a rule fire? Pure functions, no ORM: facts of one price change in, a verdict out.

Rules are edge-triggered. A rule's condition is judged on the change's new values ("now") and on
its old values ("before"). With a stored state, "was it true" comes from the state; without one
(a new rule, or an offer the rule never saw) it comes from the old values, so a rule created while
its condition already holds does not fire until the condition resets and becomes true again.

`drop_from_previous` is about one change, not a level: every change that drops the price by X %
or more is its own event (two big drops in a row are two alerts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from pricewatch.pricing.models import Availability

DROP_FROM_FIRST = "drop_from_first"
DROP_FROM_PREVIOUS = "drop_from_previous"
TARGET_PRICE = "target_price"
BACK_IN_STOCK = "back_in_stock"
LOWEST_IN_DAYS = "lowest_in_days"

KINDS = (DROP_FROM_FIRST, DROP_FROM_PREVIOUS, TARGET_PRICE, BACK_IN_STOCK, LOWEST_IN_DAYS)
# Kinds whose condition is about one change rather than a level that can stay true.
EVENT_KINDS = frozenset({DROP_FROM_PREVIOUS})
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
BUYABLE = Availability.buyable()


@dataclass(frozen=True, slots=True)
class ChangeFacts:
    """What one PriceChange says (plus the window low for lowest-in-N-days rules)."""

    old_price: Decimal | None
    new_price: Decimal | None
    old_currency: str
    new_currency: str
    old_availability: str
    new_availability: str
    first_price: Decimal | None
    window_low: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    now: bool
    before: bool
    reference: Decimal | None = None
    percent: Decimal | None = None


def drop_percent(reference: Decimal | None, price: Decimal | None) -> Decimal | None:
    """How far `price` is below `reference`, in percent (negative for a rise), 2 decimals."""
    if reference is None or price is None or reference <= 0:
        return None
    return ((reference - price) * HUNDRED / reference).quantize(CENT, rounding=ROUND_HALF_UP)


def judge(
    kind: str,
    facts: ChangeFacts,
    *,
    percent: Decimal | None = None,
    target: Decimal | None = None,
) -> Verdict:
    """Judge a rule's condition on a change's new values and on its old ones."""
    same_currency = bool(facts.old_currency) and facts.old_currency == facts.new_currency
    old, new = facts.old_price, facts.new_price
    if kind == DROP_FROM_FIRST:
        first = facts.first_price
        if first is None or first <= 0 or new is None or percent is None:
            return Verdict(False, False)
        threshold = first * (HUNDRED - percent) / HUNDRED
        return Verdict(
            now=new <= threshold,
            before=same_currency and old is not None and old <= threshold,
            reference=first,
            percent=drop_percent(first, new),
        )
    if kind == DROP_FROM_PREVIOUS:
        if old is None or new is None or old <= 0 or not same_currency or percent is None:
            return Verdict(False, False, reference=old)
        return Verdict(
            now=new <= old * (HUNDRED - percent) / HUNDRED,
            before=False,
            reference=old,
            percent=drop_percent(old, new),
        )
    if kind == TARGET_PRICE:
        if target is None or new is None:
            return Verdict(False, False, reference=target)
        return Verdict(
            now=new <= target,
            before=same_currency and old is not None and old <= target,
            reference=target,
            percent=drop_percent(old, new) if same_currency else None,
        )
    if kind == BACK_IN_STOCK:
        return Verdict(
            now=facts.new_availability in BUYABLE,
            before=facts.old_availability in BUYABLE,
            reference=old,
            percent=drop_percent(old, new) if same_currency else None,
        )
    if kind == LOWEST_IN_DAYS:
        low = facts.window_low
        if low is None or new is None:
            return Verdict(False, False, reference=low)
        # A new low is reached by a drop: a rise, or a change of availability alone, resets the
        # rule even when the price is still the lowest of the window.
        return Verdict(
            now=new <= low and (not same_currency or old is None or new < old),
            before=same_currency and old is not None and old <= low,
            reference=low,
            percent=drop_percent(old, new) if same_currency else None,
        )
    raise ValueError(f"unknown rule kind {kind!r}")


def fires(
    kind: str,
    verdict: Verdict,
    *,
    was_active: bool | None,
    last_fired_at: datetime | None,
    cooldown: timedelta | None,
    now: datetime,
) -> bool:
    """Whether the rule fires for this change.

    `was_active` is the stored state (None: no state yet, judge by the change's old values).
    """
    if not verdict.now:
        return False
    if kind in EVENT_KINDS:
        return True
    before = verdict.before if was_active is None else was_active
    if not before:
        return True
    # Still true since the last firing: only the cooldown lets it fire again.
    return cooldown is not None and last_fired_at is not None and now - last_fired_at >= cooldown
