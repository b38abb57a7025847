"""Evaluation reads the price-change outbox once, covers every scope and kind, and keeps state."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from pricewatch.alerts import dispatch, evaluation, services
from pricewatch.alerts.models import (
    AlertPreferences,
    AlertRule,
    Channel,
    EvaluatedChange,
    EvaluationCursor,
    Notification,
    RuleState,
)
from pricewatch.pricing.models import Availability
from tests.alerts.conftest import Recorder, make_user, record, tracked_offer, watch
from tests.services import SMTPServer

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def kinds() -> list[str]:
    return list(Notification.objects.order_by("id").values_list("kind", flat=True))


@pytest.fixture(autouse=True)
def _no_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests look at what evaluation decides; delivery has its own tests.
    monkeypatch.setattr("pricewatch.alerts.tasks.deliver_notifications.delay", lambda: None)


def test_a_lost_consumer_task_is_made_up_by_the_dispatcher_sweep() -> None:
    # given changes recorded while the consumer was not called (its task got lost)
    user = make_user()
    offer = tracked_offer("100")
    watch(user, offer)
    record(offer, "60")  # no on-commit callbacks run here: nobody was told

    assert not Notification.objects.exists()
    summary = dispatch.dispatch_due()

    assert summary["evaluate"] is True
    assert kinds() == ["drop_from_first"]
    # and the sweep does not evaluate it twice
    assert dispatch.dispatch_due().get("evaluate") is None
    assert Notification.objects.count() == 1


def test_first_evaluation_creates_the_users_defaults_once() -> None:
    user = make_user()
    offer = tracked_offer("100")
    watch(user, offer)
    record(offer, "99")
    dispatch.dispatch_due()

    assert AlertPreferences.objects.filter(user=user).count() == 1
    [rule] = AlertRule.objects.filter(owner=user)
    assert (rule.kind, rule.scope, rule.percent, rule.is_default) == (
        "drop_from_first",
        "all",
        Decimal(30),
        True,
    )
    [channel] = Channel.objects.filter(owner=user)
    assert (channel.kind, channel.target) == ("email", "")

    services.ensure_defaults(user=user)
    assert AlertRule.objects.filter(owner=user).count() == 1


def test_a_user_who_turned_the_default_rule_off_gets_no_30_percent_alert(price: Recorder) -> None:
    user = make_user()
    services.ensure_defaults(user=user)
    AlertRule.objects.filter(owner=user, is_default=True).update(enabled=False)
    offer = tracked_offer("100")
    watch(user, offer)

    price(offer, "50")

    assert not Notification.objects.exists()


def test_a_user_who_deleted_the_default_rule_does_not_get_it_back(price: Recorder) -> None:
    user = make_user()
    services.ensure_defaults(user=user)
    AlertRule.objects.filter(owner=user).delete()
    offer = tracked_offer("100")
    watch(user, offer)

    price(offer, "50")

    assert not AlertRule.objects.filter(owner=user).exists()
    assert not Notification.objects.exists()


def test_item_watchlist_and_all_scopes_reach_only_their_items(price: Recorder) -> None:
    user = make_user()
    services.ensure_defaults(user=user)
    AlertRule.objects.filter(owner=user).delete()
    coffee, tea = tracked_offer("100", title="Coffee"), tracked_offer("100", title="Tea")
    coffee_item = watch(user, coffee, list_name="Kitchen")
    tea_item = watch(user, tea, list_name="Gifts")
    percent = {"kind": "drop_from_previous", "percent": Decimal(10)}
    item_rule = services.create_rule(owner=user, scope="item", item_id=coffee_item.pk, **percent)
    list_rule = services.create_rule(
        owner=user, scope="watchlist", watchlist_id=tea_item.watchlist_id, **percent
    )
    all_rule = services.create_rule(owner=user, scope="all", **percent)

    price(coffee, "80")
    price(tea, "80")

    fired = set(Notification.objects.values_list("rule_id", "offer_id"))
    assert fired == {
        (item_rule.pk, coffee.pk),
        (list_rule.pk, tea.pk),
        (all_rule.pk, coffee.pk),
        (all_rule.pk, tea.pk),
    }


def test_another_users_rules_never_see_my_items(price: Recorder) -> None:
    ann, bob = make_user(), make_user()
    offer = tracked_offer("100")
    watch(ann, offer)
    services.ensure_defaults(user=bob)  # bob has the default "all items" rule, no items

    price(offer, "50")

    assert set(Notification.objects.values_list("owner_id", flat=True)) == {ann.pk}


def test_the_same_offer_in_two_lists_alerts_once(price: Recorder) -> None:
    user = make_user()
    offer = tracked_offer("100")
    first = watch(user, offer, list_name="A")
    watch(user, offer, list_name="B")

    price(offer, "50")

    [notification] = Notification.objects.all()
    assert notification.item_id == first.pk


def test_target_price_uses_the_items_target_or_the_rules_own(price: Recorder) -> None:
    user = make_user()
    services.ensure_defaults(user=user)
    AlertRule.objects.filter(owner=user).delete()
    offer = tracked_offer("100")
    item = watch(user, offer, target="90")
    services.create_rule(owner=user, kind="target_price", scope="all")
    services.create_rule(
        owner=user, kind="target_price", scope="item", item_id=item.pk, target_price=Decimal(80)
    )

    price(offer, "90")
    assert [n.reference_price for n in Notification.objects.all()] == [Decimal(90)]
    price(offer, "79.99")
    assert sorted(n.reference_price for n in Notification.objects.all()) == [
        Decimal(80),
        Decimal(90),
    ]


def test_back_in_stock_fires_on_the_transition(price: Recorder) -> None:
    user = make_user()
    services.ensure_defaults(user=user)
    offer = tracked_offer("100")
    watch(user, offer)
    services.create_rule(owner=user, kind="back_in_stock", scope="all")

    price(offer, "100", availability=Availability.OUT_OF_STOCK)
    price(offer, None, availability=Availability.OUT_OF_STOCK)
    assert kinds() == []
    price(offer, "100", availability=Availability.IN_STOCK)
    assert kinds() == ["back_in_stock"]
    price(offer, "99", availability=Availability.IN_STOCK)
    assert kinds() == ["back_in_stock"]


def test_lowest_in_n_days_uses_the_daily_history(price: Recorder) -> None:
    user = make_user()
    services.ensure_defaults(user=user)
    AlertRule.objects.filter(owner=user).delete()
    services.create_rule(owner=user, kind="lowest_in_days", scope="all", days=7)
    with time_machine.travel(T0 - timedelta(days=20), tick=False):
        offer = tracked_offer("50")  # a low long ago, outside the window
    watch(user, offer)
    with time_machine.travel(T0 - timedelta(days=5), tick=False):
        price(offer, "90")
    with time_machine.travel(T0 - timedelta(days=3), tick=False):
        price(offer, "80")
    assert kinds() == ["lowest_in_days"]  # 80 is the lowest of the last 7 days
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        price(offer, "85")
    with time_machine.travel(T0, tick=False):
        price(offer, "82")
    assert kinds() == ["lowest_in_days"]  # 82 is not below 80
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        price(offer, "79")
    assert kinds() == ["lowest_in_days", "lowest_in_days"]
    assert Notification.objects.order_by("id").last().reference_price == Decimal(79)


def test_a_rule_created_while_its_condition_holds_waits_for_the_next_edge(
    price: Recorder,
) -> None:
    user = make_user()
    services.ensure_defaults(user=user)
    AlertRule.objects.filter(owner=user).delete()
    offer = tracked_offer("100")
    watch(user, offer)
    price(offer, "40")
    services.create_rule(owner=user, kind="drop_from_first", scope="all", percent=Decimal(50))

    price(offer, "39")  # was already 50 % below: no edge
    assert kinds() == []
    price(offer, "70")
    price(offer, "45")
    assert kinds() == ["drop_from_first"]


def test_muted_rules_are_not_evaluated_and_changing_a_rule_resets_its_state(
    price: Recorder,
) -> None:
    user = make_user()
    offer = tracked_offer("100")
    watch(user, offer)
    price(offer, "60")
    rule = AlertRule.objects.get(owner=user)
    assert RuleState.objects.get(rule=rule).active

    services.update_rule(rule=rule, enabled=False)
    price(offer, "100")
    price(offer, "60")
    assert Notification.objects.count() == 1

    services.update_rule(rule=rule, enabled=True, percent=Decimal(35))
    assert not RuleState.objects.filter(rule=rule).exists()


def test_evaluation_batches_and_cursor_cover_every_change_once(settings: Any) -> None:
    users = [make_user() for _ in range(3)]
    offers = [tracked_offer("100") for _ in range(5)]
    for user in users:
        for offer in offers:
            watch(user, offer)
    for offer in offers:
        record(offer, "60")
        record(offer, "100")
        record(offer, "65")

    first = evaluation.evaluate_pending(limit=4)
    assert (first.changes, first.more) == (4, True)
    while evaluation.evaluate_pending(limit=4).more:
        pass

    # each offer fired twice (60, then 65 after the reset) for each of the three users
    assert Notification.objects.count() == 5 * 2 * 3
    assert not evaluation.pending_exists()

    # once the changes are old enough, the cursor moves past them and forgets the done-marks
    later = datetime.now(tz=UTC) + evaluation.SETTLE + timedelta(seconds=1)
    evaluation.evaluate_pending(now=later)
    assert EvaluationCursor.objects.get().last_change_id > 0
    assert not EvaluatedChange.objects.exists()
    assert not evaluation.pending_exists()


def test_quiet_hours_hold_notifications_until_they_end(
    smtp: SMTPServer, price: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # deliver for real here
    user = make_user()
    user.time_zone = "Europe/Berlin"
    user.save()
    services.update_preferences(user=user, quiet_start=time(22), quiet_end=time(7))
    offer = tracked_offer("100")
    watch(user, offer)

    night = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)  # 00:00 in Berlin
    with time_machine.travel(night, tick=False):
        price(offer, "50")
        dispatch.dispatch_due()
    assert smtp.messages == []
    assert Notification.objects.get().due_at == datetime(2026, 1, 11, 6, 0, tzinfo=UTC)

    with time_machine.travel(datetime(2026, 1, 11, 6, 1, tzinfo=UTC), tick=False):
        dispatch.dispatch_due()
    assert len(smtp.messages) == 1


def test_the_daily_digest_bundles_the_days_alerts_into_one_mail(
    smtp: SMTPServer, price: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()
    user = make_user()
    services.update_preferences(user=user, digest=True, digest_hour=18)
    offers = [tracked_offer("100", title=f"Product {n}") for n in range(3)]
    for offer in offers:
        watch(user, offer)

    with time_machine.travel(datetime(2026, 1, 10, 9, tzinfo=UTC), tick=False):
        for offer in offers:
            price(offer, "60")
        dispatch.dispatch_due()
    assert smtp.messages == []

    with time_machine.travel(datetime(2026, 1, 10, 18, 0, 1, tzinfo=UTC), tick=False):
        dispatch.dispatch_due()
        dispatch.dispatch_due()

    [message] = smtp.messages
    assert "(3)" in message["Subject"]
    body = message.get_payload()[0].get_payload(decode=True).decode()
    assert all(f"Product {n}" in body for n in range(3))
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
