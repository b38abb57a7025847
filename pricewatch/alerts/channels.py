"""Transports: e-mail over one SMTP connection per batch, and Apprise URLs.

Every send either returns or raises `TemporaryFailure` (a later retry may help) or
`PermanentFailure` (it will not), as `core.mail.classify_mail_error` decides for e-mail. The
message of either is what the user sees on the notification.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import socket

import apprise
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.validators import validate_email

from pricewatch.core import fetch, mail
from pricewatch.core.errors import DomainError, PermanentFailure, TemporaryFailure

logger = logging.getLogger(__name__)

MAX_APPRISE_URL = 2000


def _invalid(message: str) -> DomainError:
    return DomainError(message, code="invalid", status=422, fields={"target": message})


def clean_email_address(value: str) -> str:
    """A valid e-mail address, or the empty string meaning "my account address"."""
    value = value.strip()
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError as exc:
        raise _invalid(f"'{value}' is not a valid e-mail address.") from exc
    return value


def clean_apprise_url(value: str) -> str:
    """An Apprise URL that Apprise can load, or a 422 saying why not."""
    value = value.strip()
    if not value:
        raise _invalid("An Apprise URL is required, e.g. 'tgram://bottoken/chat_id'.")
    if len(value) > MAX_APPRISE_URL:
        raise _invalid(f"The URL is longer than {MAX_APPRISE_URL} characters.")
    if "://" not in value:
        raise _invalid(
            f"'{value}' is not an Apprise URL: it needs a scheme such as tgram://, slack://, "
            "discord://, ntfy:// or json://."
        )
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        loaded = apprise.Apprise().add(value)
    if not loaded:
        scheme = value.split("://", 1)[0]
        reason = _last_line(captured.getvalue()) or f"'{scheme}://' is not a supported service."
        raise _invalid(f"Apprise cannot use this URL: {_redact(reason, value)}")
    problem = private_destination(value)
    if problem:
        raise _invalid(problem)
    return value


def private_destination(url: str) -> str | None:
    """Why an Apprise URL must not be used, if it points at a private address.

    Webhook-style services (json://, xml://, form://, self-hosted ntfy or gotify...) would
    otherwise let a user make the worker call into our own network. Services whose "host" is a
    token or a topic name do not resolve, and pass.
    """
    instance = apprise.Apprise.instantiate(url)
    host = str(getattr(instance, "host", "") or "").strip("[]").lower()
    if not host:
        return None
    port = getattr(instance, "port", None)
    policy = fetch.AddressPolicy(settings.FETCH_ALLOW_NETWORKS)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            return f"Refusing to notify {host}: it is a local address."
        if "." not in host or policy.host_allowed(host, port):
            return None
        try:
            addresses = [str(info[4][0]) for info in socket.getaddrinfo(host, port or 443)]
        except (OSError, UnicodeError):
            return None  # not resolvable now; checked again before every send
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        reason = policy.reason(ip, port if isinstance(port, int) else None)
        if reason:
            return f"Refusing to notify {host}: it is a {reason}."
    return None


def send_apprise(url: str, *, title: str, body: str) -> None:
    problem = private_destination(url)
    if problem:
        raise PermanentFailure(problem)
    notifier = apprise.Apprise()
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        if not notifier.add(url):
            raise PermanentFailure("The Apprise URL can no longer be loaded; edit the channel.")
        result = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
    if not result:
        reason = _last_line(captured.getvalue()) or "The service did not accept the notification."
        # Apprise does not tell a rejected token from an outage: retry, then give up.
        raise TemporaryFailure(_redact(reason, url))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _redact(message: str, url: str) -> str:
    # Apprise repeats the URL (tokens and all) in its messages; the error is shown in lists.
    return message.replace(url, url.split("://", 1)[0] + "://…")


class MailSession:
    """One SMTP connection for a batch of messages.

    After the server could not be reached (or dropped the connection), the rest of the batch
    fails at once with the same error instead of waiting for a timeout once per message.
    """

    def __init__(self) -> None:
        self.connection: BaseEmailBackend | None = None
        self.broken: TemporaryFailure | None = None

    def __enter__(self) -> MailSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # a dead connection cannot be closed politely
                logger.debug("closing the SMTP connection failed", exc_info=True)
            self.connection = None

    def send(self, message: EmailMessage) -> None:
        if self.broken is not None:
            raise TemporaryFailure(str(self.broken))
        try:
            if self.connection is None:
                self.connection = get_connection(fail_silently=False)
                self.connection.open()
            message.connection = self.connection
            self.connection.send_messages([message])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
            # smtplib reset the transaction; the connection is still good for the next one.
            raise mail.classify_mail_error(exc) from exc
        except Exception as exc:
            self.close()
            failure = mail.classify_mail_error(exc)
            if isinstance(failure, TemporaryFailure):
                self.broken = failure
            raise failure from exc
