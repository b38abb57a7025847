"""One rule for every sender: a failed mail is temporary (retry) or permanent (give up)."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import EmailMessage

from pricewatch.core import mail
from pricewatch.core.errors import PermanentFailure, TemporaryFailure
from tests.services import free_port, use_smtp_port


class Answering:
    """An SMTP server that answers one command (MAIL, RCPT or DATA) with the given reply."""

    def __init__(self, command: str, reply: str) -> None:
        self.command = command
        self.reply = reply

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.command == "MAIL":
            return self.reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.command == "RCPT":
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.reply if self.command == "DATA" else "250 Message accepted"


def failure_of_sending() -> TemporaryFailure | PermanentFailure:
    message = EmailMessage(
        "Price drop", "It is cheaper now.", "pw@example.com", ["ann@example.com"]
    )
    with pytest.raises(Exception) as raised:
        message.send()
    return mail.classify_mail_error(raised.value)


@pytest.fixture
def answering(settings: Any) -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(command: str, reply: str) -> None:
        port = free_port()
        controller = Controller(Answering(command, reply), hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        use_smtp_port(settings, port, timeout=1)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.mark.parametrize(
    ("command", "reply", "kind", "text"),
    [
        ("RCPT", "550 5.1.1 No such user", PermanentFailure, "550 5.1.1 No such user"),
        ("RCPT", "452 4.2.2 Mailbox full", TemporaryFailure, "452 4.2.2 Mailbox full"),
        ("DATA", "554 5.7.1 Looks like spam", PermanentFailure, "554 5.7.1 Looks like spam"),
        ("DATA", "451 4.3.0 Try again later", TemporaryFailure, "451 4.3.0"),
        # Our own sender refused: the server's configuration, fixable before retries run out.
        ("MAIL", "553 5.7.1 Sender not allowed", TemporaryFailure, "553"),
        ("MAIL", "421 4.7.0 Too busy", TemporaryFailure, "421"),
    ],
)
def test_real_smtp_answers_are_classified_by_what_they_refuse_and_their_code(
    answering: Any, command: str, reply: str, kind: type[Exception], text: str
) -> None:
    # given a server that answers `command` with `reply`
    answering(command, reply)

    # when a mail is sent, then the failure says whether a retry can help, and why
    failure = failure_of_sending()
    assert isinstance(failure, kind)
    assert text in str(failure)


def test_a_server_that_is_down_is_a_temporary_failure(settings: Any) -> None:
    use_smtp_port(settings, free_port(), timeout=1)  # nothing listens there

    failure = failure_of_sending()

    assert isinstance(failure, TemporaryFailure)
    assert "refused the connection" in str(failure)


def test_a_server_that_never_answers_is_a_temporary_failure(settings: Any) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        use_smtp_port(settings, silent.getsockname()[1], timeout=1)

        failure = failure_of_sending()

    assert isinstance(failure, TemporaryFailure)
    assert "timed out" in str(failure)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (smtplib.SMTPRecipientsRefused({"a@x": (550, b"unknown")}), PermanentFailure),
        (smtplib.SMTPRecipientsRefused({"a@x": (450, b"later")}), TemporaryFailure),
        # one refusal for good makes the whole send permanent, whatever the order
        (
            smtplib.SMTPRecipientsRefused({"a@x": (450, b"later"), "b@x": (550, b"gone")}),
            PermanentFailure,
        ),
        (smtplib.SMTPDataError(554, b"spam"), PermanentFailure),
        (smtplib.SMTPDataError(451, b"later"), TemporaryFailure),
        (smtplib.SMTPSenderRefused(553, b"bad sender", "x@y"), TemporaryFailure),
        (smtplib.SMTPAuthenticationError(535, b"bad login"), TemporaryFailure),
        (smtplib.SMTPResponseException(421, b"busy"), TemporaryFailure),
        (smtplib.SMTPNotSupportedError("no STARTTLS"), TemporaryFailure),
        (smtplib.SMTPServerDisconnected("bye"), TemporaryFailure),
        (ConnectionRefusedError(111, "refused"), TemporaryFailure),
        (TimeoutError(), TemporaryFailure),
        (OSError("no route"), TemporaryFailure),
        (ValueError("template broke"), PermanentFailure),
    ],
)
def test_every_mail_error_is_temporary_or_permanent(
    error: BaseException, kind: type[Exception]
) -> None:
    assert type(mail.classify_mail_error(error)) is kind


def test_a_failure_already_classified_is_kept() -> None:
    failure = PermanentFailure("The Apprise URL can no longer be loaded.")
    assert mail.classify_mail_error(failure) is failure
