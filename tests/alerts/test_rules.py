"""The pure rule logic: conditions on a change's new and old values, and edge triggering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricewatch.alerts import rules
from pricewatch.alerts.rules import ChangeFacts, Verdict

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def facts(
    old: str | None,
    new: str | None,
    *,
    first: str | None = "100",
    old_availability: str = "in_stock",
    new_availability: str = "in_stock",
    currency: tuple[str, str] = ("EUR", "EUR"),
    low: str | None = None,
) -> ChangeFacts:
    return ChangeFacts(
        old_price=None if old is None else Decimal(old),
        new_price=None if new is None else Decimal(new),
        old_currency=currency[0],
        new_currency=currency[1],
        old_availability=old_availability,
        new_availability=new_availability,
        first_price=None if first is None else Decimal(first),
        window_low=None if low is None else Decimal(low),
    )


@pytest.mark.parametrize(
    ("old", "new", "now", "before", "percent"),
    [
        ("100", "65", True, False, "35.00"),
        ("100", "70", True, False, "30.00"),  # exactly X % counts
        ("100", "70.01", False, False, "29.99"),
        ("65", "60", True, True, "40.00"),
        ("60", "95", False, True, "5.00"),
    ],
)
def test_drop_from_first(old: str, new: str, now: bool, before: bool, percent: str) -> None:
    verdict = rules.judge(rules.DROP_FROM_FIRST, facts(old, new), percent=Decimal(30))
    assert verdict == Verdict(now, before, Decimal(100), Decimal(percent))


def test_drop_from_first_needs_a_first_price_and_a_new_price() -> None:
    assert not rules.judge(rules.DROP_FROM_FIRST, facts("100", None), percent=Decimal(30)).now
    assert not rules.judge(
        rules.DROP_FROM_FIRST, facts("100", "1", first=None), percent=Decimal(30)
    ).now


def test_drop_from_previous_is_judged_per_change() -> None:
    verdict = rules.judge(rules.DROP_FROM_PREVIOUS, facts("80", "60"), percent=Decimal(20))
    assert (verdict.now, verdict.before, verdict.percent) == (True, False, Decimal("25.00"))
    # a currency switch is no drop
    switched = facts("80", "60", currency=("EUR", "USD"))
    assert not rules.judge(rules.DROP_FROM_PREVIOUS, switched, percent=Decimal(20)).now
    # two big drops in a row are two events
    assert rules.fires(
        rules.DROP_FROM_PREVIOUS,
        verdict,
        was_active=True,
        last_fired_at=NOW,
        cooldown=None,
        now=NOW,
    )


def test_target_price() -> None:
    verdict = rules.judge(rules.TARGET_PRICE, facts("60", "49.90"), target=Decimal("49.90"))
    assert (verdict.now, verdict.before, verdict.reference) == (True, False, Decimal("49.90"))
    assert rules.judge(rules.TARGET_PRICE, facts("49", "45"), target=Decimal(50)).before
    assert not rules.judge(rules.TARGET_PRICE, facts("49", "45"), target=None).now


def test_back_in_stock_only_on_the_transition_to_buyable() -> None:
    back = facts("10", "10", old_availability="out_of_stock", new_availability="limited")
    verdict = rules.judge(rules.BACK_IN_STOCK, back)
    assert (verdict.now, verdict.before) == (True, False)
    price_move = rules.judge(rules.BACK_IN_STOCK, facts("10", "9"))
    assert not rules.fires(
        rules.BACK_IN_STOCK, price_move, was_active=None, last_fired_at=None, cooldown=None, now=NOW
    )
    preorder = facts("10", "10", old_availability="out_of_stock", new_availability="preorder")
    assert not rules.judge(rules.BACK_IN_STOCK, preorder).now


def test_lowest_in_days_compares_with_the_window_low() -> None:
    assert rules.judge(rules.LOWEST_IN_DAYS, facts("90", "70", low="70")).now
    verdict = rules.judge(rules.LOWEST_IN_DAYS, facts("90", "75", low="70"))
    assert not verdict.now
    assert not rules.judge(rules.LOWEST_IN_DAYS, facts("90", "75", low=None)).now
    # a rise to what is now the window's low (older lows dropped out) is not a new low
    assert not rules.judge(rules.LOWEST_IN_DAYS, facts("50", "90", low="90")).now


def test_edges_state_and_cooldown() -> None:
    true_now = Verdict(True, True)
    # no state: the old values decide (already true before: no edge)
    kwargs = {"last_fired_at": None, "cooldown": None, "now": NOW}
    assert not rules.fires(rules.TARGET_PRICE, true_now, was_active=None, **kwargs)
    assert rules.fires(rules.TARGET_PRICE, Verdict(True, False), was_active=None, **kwargs)
    # a stored state wins over the old values
    assert rules.fires(rules.TARGET_PRICE, true_now, was_active=False, **kwargs)
    assert not rules.fires(rules.TARGET_PRICE, Verdict(False, False), was_active=False, **kwargs)
    # still true: only after the cooldown
    hour = timedelta(hours=1)
    assert not rules.fires(
        rules.TARGET_PRICE, true_now, was_active=True, last_fired_at=NOW, cooldown=hour, now=NOW
    )
    assert rules.fires(
        rules.TARGET_PRICE,
        true_now,
        was_active=True,
        last_fired_at=NOW,
        cooldown=hour,
        now=NOW + hour,
    )


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rule kind"):
        rules.judge("sometimes", facts("1", "2"))


@given(
    first=st.decimals(min_value=1, max_value=10_000, places=2),
    new=st.decimals(min_value=0, max_value=10_000, places=2),
    percent=st.integers(min_value=1, max_value=99),
)
def test_drop_from_first_agrees_with_the_percentage(
    first: Decimal, new: Decimal, percent: int
) -> None:
    verdict = rules.judge(
        rules.DROP_FROM_FIRST,
        facts(str(first), str(new), first=str(first)),
        percent=Decimal(percent),
    )
    exact = (first - new) * 100 / first
    assert verdict.now == (exact >= percent)
