from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from pricewatch.accounts.models import User
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Availability, Offer, PriceChange
from pricewatch.tracking.models import WatchItem, Watchlist
from tests.accounts.conftest import api  # noqa: F401  (a fixture)
from tests.accounts.factories import UserFactory
from tests.pricing.factories import make_offer
from tests.services import SMTPServer, free_port


def make_user(**fields: Any) -> User:
    user: User = UserFactory(**fields)
    return user


def watch(
    user: User,
    offer: Offer,
    *,
    target: str | None = None,
    list_name: str = "Main",
) -> WatchItem:
    watchlist, _ = Watchlist.objects.get_or_create(owner=user, name=list_name)
    return WatchItem.objects.create(
        watchlist=watchlist, offer=offer, target_price=Decimal(target) if target else None
    )


def tracked_offer(price: str = "100.00", **fields: Any) -> Offer:
    fields.setdefault("title", "Espresso machine")
    offer = make_offer(price=price, **fields)
    offer.image_url = "https://shop.example/img/espresso.jpg"
    offer.save(update_fields=["image_url"])
    return offer


def record(
    offer: Offer,
    price: str | None,
    *,
    availability: str = Availability.IN_STOCK,
    at: datetime | None = None,
    currency: str = "EUR",
) -> PriceChange | None:
    return pricing.record_price(
        offer,
        price=None if price is None else Decimal(price),
        currency=currency,
        availability=availability,
        method="test",
        observed_at=at,
    )


class Recorder:
    """Records prices the way the tracker does: the consumer runs after commit."""

    def __init__(self, capture: Callable[..., AbstractContextManager[Any]]) -> None:
        self.capture = capture

    def __call__(self, offer: Offer, price: str | None, **kwargs: Any) -> PriceChange | None:
        with self.capture(execute=True):
            return record(offer, price, **kwargs)


@pytest.fixture
def price(django_capture_on_commit_callbacks: Any) -> Recorder:
    return Recorder(django_capture_on_commit_callbacks)


@pytest.fixture
def mail_to(settings: Any) -> Callable[[SMTPServer | int], None]:
    """Point Django's SMTP backend at a server (or a port where nothing listens)."""

    def point(target: SMTPServer | int) -> None:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = target if isinstance(target, int) else target.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5

    return point


@pytest.fixture
def smtp(smtp_server: SMTPServer, mail_to: Callable[[SMTPServer | int], None]) -> SMTPServer:
    mail_to(smtp_server)
    return smtp_server


class RefusingHandler:
    """An SMTP server that refuses every recipient with the given reply (e.g. 550 or 451)."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.messages: list[Message] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        return self.reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes

        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def refusing_smtp(mail_to: Callable[[SMTPServer | int], None]) -> Iterator[Callable[[str], Any]]:
    controllers: list[Controller] = []

    def start(reply: str) -> RefusingHandler:
        handler = RefusingHandler(reply)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        mail_to(port)
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def subject(message: Message) -> str:
    """The decoded subject (a price such as "\u20ac65.00" makes it an encoded header)."""
    return str(make_header(decode_header(message["Subject"])))


def parts(message: Message) -> dict[str, str]:
    """content type -> decoded text of a (multipart) message."""
    found = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found[part.get_content_type()] = payload.decode()
    return found
