"""Admins get one mail per batch of API edits: batched, claimed once, sent once, retried."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import Message
from typing import Any

import environ
import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.utils import timezone

from pricewatch.catalog import notifications, services
from pricewatch.catalog.models import NoticeBatch, ProductNotice
from pricewatch.core import delivery as core_delivery
from pricewatch.core import dispatchers
from pricewatch.core.errors import PermanentFailure, TemporaryFailure
from pricewatch.core.models import Delivery
from tests.accounts.factories import UserFactory
from tests.catalog.factories import make_product
from tests.services import SMTPServer, child_env, free_port

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def use_smtp(settings: Any, url: str) -> None:
    for key, value in environ.Env.email_url_config(url).items():
        setattr(settings, key, value)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def admins(db: None) -> list[Any]:
    return [
        UserFactory(email="boss@example.com", is_staff=True),
        UserFactory(email="ops@example.com", is_staff=True),
        UserFactory(email="gone@example.com", is_staff=True, is_active=False),
        UserFactory(email="shopper@example.com"),
    ]


@pytest.fixture
def smtp(settings: Any, smtp_server: SMTPServer) -> SMTPServer:
    use_smtp(settings, smtp_server.url)
    settings.CATALOG_NOTICE_BATCH_SECONDS = 60
    settings.CATALOG_NOTICE_QUIET_SECONDS = 15
    return smtp_server


def edit_three_products(actor: Any) -> None:
    product = make_product(sku="EDIT-1", price="20")
    services.update_product(product=product, actor=actor, price=Decimal("15"))
    services.create_product(
        actor=actor,
        sku="NEW-1",
        title="Fresh mug",
        price=Decimal("9"),
        currency="EUR",
    )
    gone = make_product(sku="GONE-1")
    services.delete_product(product=gone, actor=actor)


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


def test_a_burst_of_edits_is_one_mail_once_the_oldest_has_waited(
    smtp: SMTPServer, admins: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with time_machine.travel(T0, tick=False):
        edit_three_products(admins[0])
    with time_machine.travel(T0 + timedelta(seconds=10), tick=False):
        services.update_product(
            product=make_product(sku="LATE-1"), actor=admins[1], title="Renamed"
        )

    with time_machine.travel(T0 + timedelta(seconds=20), tick=False):
        assert notifications.send_due_notices()["batched"] is None  # still bursting
    with (
        time_machine.travel(T0 + timedelta(seconds=61), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = notifications.send_due_notices()

    assert result["batched"] is not None
    [message] = smtp.wait_for(1)
    assert sorted(message["To"].split(", ")) == ["boss@example.com", "ops@example.com"]
    assert message["Subject"] == "[pricewatch] 4 product changes through the API"
    body = text_of(message)
    assert "1 created, 2 changed, 1 deleted" in body
    assert "EDIT-1" in body and "price: 20.00 -> 15.00" in body
    assert "NEW-1" in body and "GONE-1" in body
    assert "title: Stainless steel bottle -> Renamed" in body
    assert "by boss@example.com" in body
    html = [p for p in message.walk() if p.get_content_type() == "text/html"]
    assert html and b"EDIT-1" in html[0].get_payload(decode=True)
    batch = NoticeBatch.objects.get()
    assert batch.status == "sent" and batch.attempts == 1
    assert batch.recipients == "boss@example.com, ops@example.com"
    assert not ProductNotice.objects.filter(batch__isnull=True).exists()


def test_a_single_edit_is_mailed_when_the_burst_is_over(
    smtp: SMTPServer, admins: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with time_machine.travel(T0, tick=False):
        services.update_product(product=make_product(sku="ONE"), actor=admins[0], title="Cup")

    with (
        time_machine.travel(T0 + timedelta(seconds=16), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notifications.send_due_notices()

    [message] = smtp.wait_for(1)
    assert message["Subject"] == "[pricewatch] Product ONE changed through the API"


def test_notices_are_claimed_once_and_a_batch_is_sent_once(
    smtp: SMTPServer, admins: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with time_machine.travel(T0, tick=False):
        edit_three_products(admins[0])

    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            first = notifications.claim_due_notices()
            second = notifications.claim_due_notices()
        assert first is not None and second is None
        assert len(callbacks) == 1
        outcomes = [notifications.deliver_batch(first.pk) for _ in range(3)]

    assert outcomes == ["sent", "skipped", "skipped"]
    assert len(smtp.wait_for(1)) == 1
    assert ProductNotice.objects.filter(batch=first).count() == 3


def test_a_batch_another_worker_is_sending_is_left_alone_and_never_sent_twice(
    smtp: SMTPServer, admins: list[Any]
) -> None:
    with time_machine.travel(T0, tick=False):
        edit_three_products(admins[0])
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        batch = notifications.claim_due_notices()
        assert batch is not None
        # another worker claims the mail, and dies before the SMTP server answers
        key = notifications.batch_key(batch.pk)
        Delivery.objects.create(key=key, due_at=timezone.now())
        core_delivery.claim(Delivery.objects.filter(key=key))

        assert notifications.deliver_batch(batch.pk) == "skipped"
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):  # its lease ran out
        assert notifications.deliver_batch(batch.pk) == "skipped"

    batch.refresh_from_db()
    assert batch.status == "failed" and "interrupted" in batch.last_error
    assert smtp.messages == []


def test_smtp_down_is_a_temporary_failure_and_the_mail_goes_out_once_it_is_back(
    settings: Any, admins: list[Any]
) -> None:
    port = free_port()
    use_smtp(settings, f"smtp://127.0.0.1:{port}")  # nothing listens there yet
    with time_machine.travel(T0, tick=False):
        edit_three_products(admins[0])
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        batch = notifications.claim_due_notices()
        assert batch is not None

        with pytest.raises(TemporaryFailure):
            notifications.deliver_batch(batch.pk)
        batch.refresh_from_db()
        assert (batch.status, batch.locked_until) == ("pending", None)
        assert "Connection" in batch.last_error or "refused" in batch.last_error.lower()

        server = SMTPServer()
        server.port = port
        server.controller = Controller(server.handler, hostname="127.0.0.1", port=port)
        server.start()
        try:
            assert notifications.deliver_batch(batch.pk) == "sent"
            assert notifications.deliver_batch(batch.pk) == "skipped"
            assert len(server.wait_for(1)) == 1
        finally:
            server.stop()
    batch.refresh_from_db()
    assert (batch.status, batch.attempts, batch.last_error) == ("sent", 2, "")


def test_the_last_attempt_gives_up_and_says_why(settings: Any, admins: list[Any]) -> None:
    use_smtp(settings, f"smtp://127.0.0.1:{free_port()}")
    with time_machine.travel(T0, tick=False):
        edit_three_products(admins[0])
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        batch = notifications.claim_due_notices()
        assert batch is not None

        task = notifications.send_notice_batch
        for _ in range(task.max_retries):  # the attempts before the last one: retried
            with pytest.raises(TemporaryFailure):
                notifications.deliver_batch(batch.pk)
            assert NoticeBatch.objects.get().status == "pending"
        # The task's last allowed attempt (retries == max_retries) gives up for good.
        final = task.apply(args=[batch.pk], retries=task.max_retries, throw=False)

    assert final.state == "FAILURE" and isinstance(final.result, PermanentFailure)

    batch.refresh_from_db()
    assert batch.status == "failed"
    assert batch.attempts == notifications.send_notice_batch.max_retries + 1
    assert batch.last_error


class _Refusing:
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "550 5.1.1 No such user"


@pytest.fixture
def refusing_smtp(settings: Any) -> Iterator[None]:
    port = free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    use_smtp(settings, f"smtp://127.0.0.1:{port}")
    try:
        yield
    finally:
        controller.stop()


def test_a_refused_address_is_a_permanent_failure_not_retried(
    refusing_smtp: None, admins: list[Any]
) -> None:
    with time_machine.travel(T0, tick=False):
        edit_three_products(admins[0])
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        batch = notifications.claim_due_notices()
        assert batch is not None

        with pytest.raises(PermanentFailure):
            notifications.deliver_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == ("failed", 1)
    assert "550" in batch.last_error
    assert notifications.deliver_batch(batch.pk) == "skipped"


def test_a_batch_whose_task_was_lost_is_queued_again(smtp: SMTPServer, admins: list[Any]) -> None:
    with time_machine.travel(T0, tick=False):
        edit_three_products(admins[0])
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        batch = notifications.claim_due_notices()  # its on-commit task never runs here
        assert batch is not None
        assert notifications.requeue_lost_batches() == 0  # not lost yet

    later = T0 + timedelta(minutes=5, seconds=notifications.NOTICE_REQUEUE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert notifications.requeue_lost_batches() == 1  # eager: sent right away
        assert notifications.requeue_lost_batches() == 0

    assert len(smtp.wait_for(1)) == 1
    batch.refresh_from_db()
    assert batch.status == "sent"


def test_without_admins_nothing_is_sent_and_the_batch_says_so(smtp: SMTPServer, db: None) -> None:
    with time_machine.travel(T0, tick=False):
        edit_three_products(None)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        batch = notifications.claim_due_notices()
        assert batch is not None
        assert notifications.deliver_batch(batch.pk) == "no recipients"

    batch.refresh_from_db()
    assert batch.status == "sent" and "No active admin" in batch.last_error
    assert smtp.messages == []


def test_nothing_pending_means_nothing_to_do(db: None) -> None:
    assert notifications.send_due_notices() == {"batched": None, "requeued": 0}


def test_the_dispatcher_is_registered() -> None:
    assert "pricewatch.catalog.notifications.send_due_notices" in dispatchers.registered()


def test_a_fresh_worker_process_knows_the_mail_task() -> None:
    # The worker must know the task before the first dispatcher tick imports this module,
    # or a queued mail would be rejected as an unregistered task.
    code = (
        "import django; django.setup(); from pricewatch.celery import app; "
        "app.loader.import_default_modules(); "
        "print('pricewatch.catalog.send_notice_batch' in app.tasks)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.stdout.strip().endswith("True"), result.stderr[-2000:]
