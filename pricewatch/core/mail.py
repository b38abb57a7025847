"""Sending e-mail: templated messages, a file backend for running without an SMTP server, and
the one rule that says whether a failed send is worth retrying.
"""

from __future__ import annotations

import logging
import re
import smtplib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.template.loader import render_to_string

from pricewatch.core.errors import PermanentFailure, TemporaryFailure

logger = logging.getLogger(__name__)


class FileMailBackend(BaseEmailBackend):
    """Writes one readable `.eml` file per message to settings.MAIL_DIR."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        folder = Path(settings.MAIL_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S-%f")
            slug = re.sub(r"[^a-z0-9]+", "-", message.subject.lower()).strip("-")[:50] or "mail"
            path = folder / f"{stamp}-{slug}.eml"
            path.write_bytes(message.message().as_bytes(linesep="\n"))
            # The body holds one-time links: log where the mail is, not what it says.
            logger.info(
                "mail to %s (%s) written to %s", ", ".join(message.to), message.subject, path
            )
            sent += 1
        return sent


def send_templated_mail(
    *, template: str, context: dict[str, object], to: list[str], fail_silently: bool = False
) -> int:
    """Send `<template>_subject.txt`, `<template>.txt` and `<template>.html` as one message.

    Templates extend `email/base.txt` and `email/base.html`.
    """
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    text = render_to_string(f"{template}.txt", context)
    html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}", body=text, to=to
    )
    message.attach_alternative(html, "text/html")
    return message.send(fail_silently=fail_silently)


def classify_mail_error(error: BaseException) -> TemporaryFailure | PermanentFailure:
    """What a failed send raised, as a failure that says whether a retry can help.

    Answers about the recipient or the message follow the SMTP code: 4xx temporary, 5xx
    permanent. Answers about our own session (connect, HELO, STARTTLS, AUTH, MAIL FROM) are
    temporary whatever their code: they come from the server's configuration, which an operator
    can fix before the retries run out. Network trouble is temporary; anything else (a broken
    template, an unencodable address) fails the same way every time, so it is permanent.
    """
    if isinstance(error, TemporaryFailure | PermanentFailure):
        return error
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values())
        refused = "; ".join(f"{code} {_text(answer)}" for code, answer in answers)
        message = f"The mail server refused the recipient: {refused}".strip()
        # Retrying helps only if every refusal was temporary.
        if answers and all(400 <= code < 500 for code, _ in answers):
            return TemporaryFailure(message)
        return PermanentFailure(message)
    if isinstance(error, smtplib.SMTPDataError):
        message = (
            f"The mail server refused the message: {error.smtp_code} {_text(error.smtp_error)}"
        )
        if 400 <= error.smtp_code < 500:
            return TemporaryFailure(message)
        return PermanentFailure(message)
    if isinstance(error, smtplib.SMTPResponseException):
        return TemporaryFailure(
            f"The mail server answered {error.smtp_code} {_text(error.smtp_error)}".strip()
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return TemporaryFailure(f"The mail server closed the connection: {error}")
    if isinstance(error, smtplib.SMTPException):  # e.g. STARTTLS or AUTH not offered
        return TemporaryFailure(f"The mail server cannot be used as configured: {error}")
    if isinstance(error, TimeoutError):
        return TemporaryFailure("The mail server did not answer in time.")
    if isinstance(error, ConnectionRefusedError):
        return TemporaryFailure("The mail server refused the connection (is it running?).")
    if isinstance(error, OSError):
        return TemporaryFailure(f"Could not reach the mail server: {error}")
    return PermanentFailure(f"{type(error).__name__}: {error}")


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
