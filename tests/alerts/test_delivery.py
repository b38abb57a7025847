"""Done means: price drops reach a real SMTP server exactly once, whatever happens to it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.db import connection

from pricewatch.alerts import delivery, dispatch, links
from pricewatch.alerts.models import AlertRule, Channel, Notification
from pricewatch.core import delivery as core_delivery
from tests.alerts.conftest import (
    Recorder,
    make_user,
    parts,
    record,
    subject,
    tracked_offer,
    watch,
)
from tests.services import SMTPServer

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_35_percent_drop_sends_exactly_one_mail_with_prices_and_percentage(
    smtp: SMTPServer, price: Recorder
) -> None:
    # given a user tracking an espresso machine first seen at 100 EUR
    user = make_user(email="ann@example.com")
    offer = tracked_offer("100.00")
    item = watch(user, offer)

    # when its price drops 35 % (the tracker records it; alerts consume after commit)
    price(offer, "65.00")

    # then one mail went out, through the default 30 % rule, with the right figures
    [message] = smtp.messages
    assert message["To"] == "ann@example.com"
    assert subject(message).endswith("Espresso machine 35 % below its first price: €65.00")
    body = parts(message)
    text, html = body["text/plain"], body["text/html"]
    assert "€100.00 → €65.00 (-35 %)" in text
    assert "first price: €100.00 (35 % below)" in text
    assert f"http://testserver/watchlists/items/{item.pk}" in text
    assert 'src="https://shop.example/img/espresso.jpg"' in html
    assert "<strong>€65.00</strong>" in html and "(-35 %)" in html
    rule = AlertRule.objects.get(owner=user, is_default=True)
    assert "".join(message["List-Unsubscribe"].split()) == f"<{links.mute_url(rule.pk)}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    notification = Notification.objects.get()
    assert notification.status == Notification.Status.SENT
    assert (notification.attempts, notification.sent_at is not None) == (1, True)

    # and running the dispatcher and the delivery again sends nothing more
    dispatch.dispatch_due()
    delivery.deliver_due()
    assert len(smtp.messages) == 1


def test_a_20_percent_drop_does_not_trigger_the_default_rule(
    smtp: SMTPServer, price: Recorder
) -> None:
    user = make_user()
    offer = tracked_offer("100.00")
    watch(user, offer)

    price(offer, "80.00")

    assert smtp.messages == []
    assert not Notification.objects.exists()


def test_a_further_drop_the_next_day_sends_no_second_mail_until_the_rule_reset(
    smtp: SMTPServer, price: Recorder
) -> None:
    user = make_user()
    offer = tracked_offer("100.00")
    watch(user, offer)
    with time_machine.travel(T0, tick=False):
        price(offer, "65.00")
    assert len(smtp.messages) == 1

    # the next day it drops further: still 30 % below the first price, no new edge
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        price(offer, "60.00")
    assert len(smtp.messages) == 1

    # it goes back up (the rule resets) and drops again: a new alert
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        price(offer, "95.00")
        assert len(smtp.messages) == 1
        price(offer, "62.00")
    assert len(smtp.messages) == 2
    assert subject(smtp.messages[1]).endswith(": €62.00")


def test_cooldown_lets_a_rule_fire_again_while_its_condition_stays_true(
    smtp: SMTPServer, price: Recorder
) -> None:
    user = make_user()
    offer = tracked_offer("100.00")
    watch(user, offer)
    with time_machine.travel(T0, tick=False):
        price(offer, "50.00")  # creates the defaults; give the default rule a cooldown
    AlertRule.objects.filter(owner=user).update(cooldown_minutes=24 * 60)

    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        price(offer, "49.00")
    assert len(smtp.messages) == 1
    with time_machine.travel(T0 + timedelta(days=1, hours=1), tick=False):
        price(offer, "48.00")
    assert len(smtp.messages) == 2


def test_smtp_server_down_during_the_drop_delivers_once_after_it_comes_back(
    smtp_server: SMTPServer, mail_to: Callable[[Any], None], price: Recorder
) -> None:
    # given the SMTP server is down when the price drops
    mail_to(smtp_server)
    smtp_server.stop()
    user = make_user()
    offer = tracked_offer("100.00")
    watch(user, offer)
    with time_machine.travel(T0, tick=False):
        price(offer, "65.00")

    # then the attempt is recorded and a retry scheduled with backoff
    notification = Notification.objects.get()
    assert notification.status == Notification.Status.QUEUED
    assert notification.attempts == 1
    assert "refused the connection" in notification.last_error
    assert notification.due_at > T0

    # a dispatcher tick before the backoff ran out changes nothing
    with time_machine.travel(T0 + timedelta(seconds=1), tick=False):
        dispatch.dispatch_due()
    assert Notification.objects.get().attempts == 1

    # when the server comes back on the same port and the backoff has passed
    controller = Controller(smtp_server.handler, hostname="127.0.0.1", port=smtp_server.port)
    controller.start()
    smtp_server.controller = controller  # the fixture stops this one
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        dispatch.dispatch_due()
        dispatch.dispatch_due()

    # then the mail arrives exactly once
    assert len(smtp_server.messages) == 1
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 2
    assert notification.last_error == ""


def test_a_refusing_server_fails_the_notification_without_retry_and_shows_why(
    refusing_smtp: Callable[[str], Any], price: Recorder
) -> None:
    server = refusing_smtp("550 5.1.1 <gone@example.com>: Recipient address rejected")
    user = make_user(email="gone@example.com")
    offer = tracked_offer("100.00")
    watch(user, offer)

    price(offer, "60.00")

    notification = Notification.objects.get()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == 1
    assert (
        "550" in notification.last_error and "Recipient address rejected" in notification.last_error
    )
    assert server.messages == []
    # no retry: later ticks leave it alone
    with time_machine.travel(datetime.now(tz=UTC) + timedelta(days=1)):
        dispatch.dispatch_due()
    assert Notification.objects.get().attempts == 1


def test_a_4xx_answer_is_retried_and_fails_after_the_last_attempt(
    refusing_smtp: Callable[[str], Any], price: Recorder
) -> None:
    refusing_smtp("451 4.3.0 Mailbox busy, try again later")
    user = make_user()
    offer = tracked_offer("100.00")
    watch(user, offer)
    with time_machine.travel(T0, tick=False):
        price(offer, "60.00")
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == (Notification.Status.QUEUED, 1)
    assert "451" in notification.last_error

    for day in range(1, delivery.MAX_ATTEMPTS + 2):
        with time_machine.travel(T0 + timedelta(days=day), tick=False):
            dispatch.dispatch_due()

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == delivery.MAX_ATTEMPTS


def test_a_row_claimed_by_another_worker_is_not_sent_again(
    smtp: SMTPServer, price: Recorder, settings: Any
) -> None:
    user = make_user()
    offer = tracked_offer("100.00")
    watch(user, offer)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with pytest.MonkeyPatch.context() as patch:
        # the consumer's delivery task is lost: the row stays queued
        patch.setattr("pricewatch.alerts.tasks.deliver_notifications.delay", lambda: None)
        price(offer, "60.00")
    notification = Notification.objects.get()

    # another worker claims it
    token, rows = delivery.claim([notification.pk])
    assert [row.pk for row in rows] == [notification.pk]

    # a second delivery finds nothing to take
    outcome = delivery.deliver([notification.pk])
    assert (outcome.sent, smtp.messages) == (0, [])

    # the first worker sends it
    with delivery.channels.MailSession() as mail:
        delivery._deliver_one(rows[0], token, mail)
    assert len(smtp.messages) == 1
    assert Notification.objects.get().status == Notification.Status.SENT


def test_a_worker_that_died_mid_send_leaves_a_failed_row_not_a_duplicate(
    smtp: SMTPServer, price: Recorder
) -> None:
    user = make_user()
    offer = tracked_offer("100.00")
    watch(user, offer)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pricewatch.alerts.tasks.deliver_notifications.delay", lambda: None)
        price(offer, "60.00")
    notification = Notification.objects.get()
    delivery.claim([notification.pk])  # ... and the worker is killed here

    with time_machine.travel(datetime.now(tz=UTC) + core_delivery.LEASE + timedelta(minutes=1)):
        dispatch.dispatch_due()

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert "interrupted" in notification.last_error
    assert smtp.messages == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliveries_of_the_same_notification_send_one_mail(
    smtp: SMTPServer,
) -> None:
    user = make_user()
    offer = tracked_offer("100.00")
    watch(user, offer)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pricewatch.alerts.tasks.deliver_notifications.delay", lambda: None)
        patch.setattr("pricewatch.alerts.tasks.evaluate_changes.delay", lambda: None)
        record(offer, "60.00")
        dispatch.tasks.evaluate_changes()
    [notification_id] = Notification.objects.values_list("id", flat=True)

    barrier = threading.Barrier(2)
    outcomes: list[delivery.Outcome] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(delivery.deliver([notification_id]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(outcome.sent for outcome in outcomes) == [0, 1]
    assert len(smtp.wait_for(1)) == 1
    assert Notification.objects.get().status == Notification.Status.SENT


def test_every_enabled_channel_gets_the_alert_and_a_disabled_one_does_not(
    smtp: SMTPServer, price: Recorder
) -> None:
    user = make_user(email="ann@example.com")
    offer = tracked_offer("100.00")
    watch(user, offer)
    from pricewatch.alerts import services

    services.ensure_defaults(user=user)
    Channel.objects.create(owner=user, kind=Channel.Kind.EMAIL, target="work@example.com")
    Channel.objects.create(
        owner=user, kind=Channel.Kind.EMAIL, target="off@example.com", enabled=False
    )

    price(offer, "60.00")

    assert sorted(message["To"] for message in smtp.messages) == [
        "ann@example.com",
        "work@example.com",
    ]
    keys = sorted(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys)) == 2
