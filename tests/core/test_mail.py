from __future__ import annotations

from email.message import Message
from pathlib import Path

import environ
import pytest
from django.core import mail

from pricewatch.core.mail import send_templated_mail
from tests.services import SMTPServer


def test_without_email_url_mail_is_written_to_the_mail_folder(
    settings: object, tmp_path: Path
) -> None:
    settings.EMAIL_BACKEND = "pricewatch.core.mail.FileMailBackend"  # type: ignore[attr-defined]
    settings.MAIL_DIR = tmp_path / "mail"  # type: ignore[attr-defined]
    mail.send_mail("Please verify", "Open http://x/confirm", None, ["ann@example.com"])
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    assert "please-verify" in files[0].name
    content = files[0].read_text()
    assert "To: ann@example.com" in content and "Open http://x/confirm" in content


def test_email_url_smtp_delivers_to_a_real_smtp_server(
    settings: object, smtp_server: SMTPServer
) -> None:
    config = environ.Env.email_url_config(smtp_server.url)
    for key, value in config.items():
        setattr(settings, key, value)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # type: ignore[attr-defined]
    sent = send_templated_mail(
        template="email/test", context={"name": "Ann"}, to=["ann@example.com"]
    )
    assert sent == 1
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "ann@example.com"
    assert "[pricewatch]" in message["Subject"]
    parts = {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
    assert "Hello Ann" in _text(parts["text/plain"])
    assert "<strong>Ann</strong>" in _text(parts["text/html"])


def test_smtps_url_uses_tls_and_credentials() -> None:
    config = environ.Env.email_url_config("smtps://me%40example.com:p%40ss@mail.example.com:465")
    assert config["EMAIL_HOST"] == "mail.example.com"
    assert config["EMAIL_PORT"] == 465
    assert config["EMAIL_HOST_USER"] == "me@example.com"
    assert config["EMAIL_HOST_PASSWORD"] == "p@ss"


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


@pytest.fixture(autouse=True)
def _test_templates(settings: object, tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "test_subject.txt").write_text("Hello {{ name }}")
    (folder / "test.txt").write_text(
        '{% extends "email/base.txt" %}{% block content %}Hello {{ name }}{% endblock %}'
    )
    (folder / "test.html").write_text(
        '{% extends "email/base.html" %}'
        "{% block content %}Hello <strong>{{ name }}</strong>{% endblock %}"
    )
    engine = {**settings.TEMPLATES[0]}  # type: ignore[attr-defined]
    engine["DIRS"] = [tmp_path / "templates", *engine["DIRS"]]
    settings.TEMPLATES = [engine]  # type: ignore[attr-defined]
