"""The admins' import mail: real SMTP (aiosmtpd), retried on trouble, never sent twice."""

from __future__ import annotations

from email.message import Message
from pathlib import Path
from typing import Any

import environ
import pytest

from pricewatch.catalog import imports, notifications, tasks
from pricewatch.catalog.models import ImportJob
from pricewatch.core.errors import TemporaryFailure
from tests.accounts.factories import UserFactory
from tests.catalog.test_imports import item, rss
from tests.services import SMTPServer, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _import_dir(settings: Any, tmp_path: Path) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"


def use_smtp(settings: Any, url: str) -> None:
    for key, value in environ.Env.email_url_config(url).items():
        setattr(settings, key, value)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_TIMEOUT = 5


def finished_job(tmp_path: Path, content: bytes) -> ImportJob:
    path = tmp_path / "feed.xml"
    path.write_bytes(content)
    job = imports.start_import(path=path)
    return imports.run_import(job.pk)


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


def test_finished_import_mails_counts_and_first_rejections_to_active_admins(
    settings: Any, smtp_server: SMTPServer, tmp_path: Path
) -> None:
    # given two active admins, an inactive admin and a shopper
    UserFactory(is_staff=True, email="ann@example.com")
    UserFactory(is_staff=True, email="bob@example.com")
    UserFactory(is_staff=True, is_active=False, email="old@example.com")
    UserFactory(email="shopper@example.com")
    use_smtp(settings, smtp_server.url)
    # and an import with 25 rejected items
    items = [item(sku=f"OK{n}") for n in range(3)]
    items += [item(sku=f"BAD{n}", price="-1 USD") for n in range(25)]
    job = finished_job(tmp_path, rss(*items))

    # when the mail task runs
    sent = tasks.send_import_mail.delay(job.pk).get()

    # then one mail reaches the active admins only
    assert sent == 1
    [message] = smtp_server.wait_for(1)
    recipients = set(smtp_server.handler.envelopes[0].rcpt_tos)
    assert recipients == {"ann@example.com", "bob@example.com"}
    assert "3 created" in message["Subject"] and "25 rejected" in message["Subject"]
    body = text_of(message)
    assert "Created:    3" in body
    assert "line 6 (BAD0): price: '-1 USD' is negative" in body
    assert "(BAD19)" in body and "(BAD20)" not in body  # the first 20
    assert "and 5 more" in body
    assert f"/api/v1/imports/{job.pk}" in body
    job.refresh_from_db()
    assert job.notified_at is not None


def test_failed_import_mails_the_error(
    settings: Any, smtp_server: SMTPServer, tmp_path: Path
) -> None:
    UserFactory(is_staff=True)
    use_smtp(settings, smtp_server.url)
    job = finished_job(tmp_path, b"<html><body/></html>")

    tasks.send_import_mail.delay(job.pk)

    [message] = smtp_server.wait_for(1)
    assert "failed" in message["Subject"]
    body = text_of(message)
    assert "root element is <html>" in body
    assert "(line 1" in body
    assert "nothing was changed" in body


def test_the_mail_is_never_sent_twice(
    settings: Any, smtp_server: SMTPServer, tmp_path: Path
) -> None:
    UserFactory(is_staff=True)
    use_smtp(settings, smtp_server.url)
    job = finished_job(tmp_path, rss(item()))

    first = tasks.send_import_mail.delay(job.pk).get()
    second = tasks.send_import_mail.delay(job.pk).get()

    assert (first, second) == (1, 0)
    assert len(smtp_server.wait_for(2, timeout=1)) == 1


def test_smtp_trouble_releases_the_claim_so_a_retry_sends(
    settings: Any, smtp_server: SMTPServer, tmp_path: Path
) -> None:
    # given an SMTP server that is down
    UserFactory(is_staff=True)
    job = finished_job(tmp_path, rss(item()))
    use_smtp(settings, f"smtp://127.0.0.1:{free_port()}")

    # when the mail is attempted, then it fails with a retryable error and is not claimed
    with pytest.raises(TemporaryFailure):
        notifications.notify_admins(job.pk)
    job.refresh_from_db()
    assert job.notified_at is None

    # when the server is back, the retry sends it
    use_smtp(settings, smtp_server.url)
    assert notifications.notify_admins(job.pk) == 1
    assert len(smtp_server.wait_for(1)) == 1


def test_the_task_retries_smtp_trouble() -> None:
    assert TemporaryFailure in tasks.send_import_mail.autoretry_for
    assert tasks.send_import_mail.max_retries >= 3


def test_running_an_import_enqueues_its_mail_after_commit(
    tmp_path: Path, django_capture_on_commit_callbacks: Any, mailoutbox: list[Any]
) -> None:
    UserFactory(is_staff=True)
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(item()))
    job = imports.start_import(path=path)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_import_task(job.pk)
    assert len(mailoutbox) == 1
    assert "Import of feed.xml finished" in mailoutbox[0].subject


def test_a_queued_job_is_not_mailed(tmp_path: Path, mailoutbox: list[Any]) -> None:
    UserFactory(is_staff=True)
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(item()))
    job = imports.start_import(path=path)
    assert notifications.notify_admins(job.pk) == 0
    assert mailoutbox == []
