"""A message named by a key is claimed before it is sent: sent at most once, retried if it can."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core.mail import EmailMessage
from django.db import connection
from django.utils import timezone

from pricewatch.core import delivery
from pricewatch.core.errors import PermanentFailure, TemporaryFailure
from pricewatch.core.models import Delivery
from tests.services import SMTPServer, free_port, use_smtp_port

pytestmark = pytest.mark.django_db

KEY = "test-mail:1"


def send_mail() -> int:
    return EmailMessage("Hello", "Once.", "pw@example.com", ["ann@example.com"]).send()


class Counting:
    def __init__(self, send: Callable[[], int] = lambda: 1) -> None:
        self.calls = 0
        self.send = send

    def __call__(self) -> int:
        self.calls += 1
        return self.send()


def row() -> Delivery:
    return Delivery.objects.get(key=KEY)


def test_a_message_is_sent_once_however_often_it_is_asked_for() -> None:
    send = Counting()

    results = [delivery.send_once(KEY, send) for _ in range(3)]

    assert results == [1, None, None]
    assert send.calls == 1
    assert (row().status, row().attempts, row().sent_at is not None) == ("sent", 1, True)


def test_a_row_another_claimer_holds_is_not_sent() -> None:
    # given another worker claimed the message
    Delivery.objects.create(key=KEY, due_at=timezone.now())
    token = delivery.claim(Delivery.objects.filter(key=KEY))
    assert delivery.claimed(Delivery.objects.filter(key=KEY), token).count() == 1

    # when a second claimer comes, then it gets nothing and sends nothing
    second = delivery.claim(Delivery.objects.filter(key=KEY))
    assert not delivery.claimed(Delivery.objects.filter(key=KEY), second).exists()
    send = Counting()
    assert delivery.send_once(KEY, send) is None
    assert send.calls == 0


@pytest.mark.django_db(transaction=True)
def test_two_claimers_at_the_same_moment_send_one_mail(settings: Any) -> None:
    server = SMTPServer()
    server.start()
    use_smtp_port(settings, server.port)
    barrier = threading.Barrier(2)
    results: list[int | None] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(delivery.send_once(KEY, send_mail))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert sorted(results, key=str) == [1, None]
        assert len(server.wait_for(2, timeout=1)) == 1
    finally:
        server.stop()
    assert row().status == "sent"


def test_a_temporary_failure_is_retried_and_then_sent(settings: Any) -> None:
    # given a mail server that is down
    port = free_port()
    use_smtp_port(settings, port)

    # when the message is sent, then the failure is temporary and the message stays queued
    with pytest.raises(TemporaryFailure, match="refused the connection"):
        delivery.send_once(KEY, send_mail)
    assert (row().status, row().attempts) == ("queued", 1)
    assert "refused the connection" in row().last_error

    # when the server is back, the retry sends it, once
    server = SMTPServer()
    server.port = port
    server.controller = Controller(server.handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        assert delivery.send_once(KEY, send_mail) == 1
        assert delivery.send_once(KEY, send_mail) is None
        assert len(server.wait_for(2, timeout=1)) == 1
    finally:
        server.stop()
    assert (row().status, row().attempts, row().last_error) == ("sent", 2, "")


class _Refusing:
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "550 5.1.1 No such user"


def test_a_permanent_failure_is_not_retried(settings: Any) -> None:
    port = free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    use_smtp_port(settings, port)
    try:
        with pytest.raises(PermanentFailure, match="550"):
            delivery.send_once(KEY, send_mail)
        send = Counting()
        assert delivery.send_once(KEY, send) is None
    finally:
        controller.stop()
    assert send.calls == 0
    assert (row().status, row().attempts) == ("failed", 1)
    assert "550 5.1.1 No such user" in row().last_error


def test_the_last_attempt_gives_up_on_a_temporary_failure() -> None:
    def down() -> int:
        raise smtplib.SMTPServerDisconnected("gone")

    with pytest.raises(PermanentFailure, match="closed the connection"):
        delivery.send_once(KEY, down, final_attempt=True)

    assert (row().status, row().attempts) == ("failed", 1)
    assert delivery.send_once(KEY, Counting()) is None


def test_a_claimer_that_died_leaves_a_failed_row_not_a_second_mail() -> None:
    start = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        Delivery.objects.create(key=KEY, due_at=timezone.now())
        delivery.claim(Delivery.objects.filter(key=KEY))  # ... and the worker is killed here

    send = Counting()
    with time_machine.travel(start + delivery.LEASE + timedelta(minutes=1), tick=False):
        assert delivery.send_once(KEY, send) is None

    assert send.calls == 0
    assert row().status == "failed" and "interrupted" in row().last_error


def test_a_row_not_due_yet_is_not_claimed() -> None:
    Delivery.objects.create(key=KEY, due_at=timezone.now() + timedelta(minutes=5))

    token = delivery.claim(Delivery.objects.filter(key=KEY))

    assert not delivery.claimed(Delivery.objects.filter(key=KEY), token).exists()
    assert row().attempts == 0
