"""E-mail without an SMTP server: each message is written to the mail folder and logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

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
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string

    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    text = render_to_string(f"{template}.txt", context)
    html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}", body=text, to=to
    )
    message.attach_alternative(html, "text/html")
    return message.send(fail_silently=fail_silently)
