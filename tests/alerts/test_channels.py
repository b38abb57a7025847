"""SMTP answers become retryable or final failures with a message the user can read."""

from __future__ import annotations

import smtplib

import pytest

from pricewatch.alerts import channels
from pricewatch.core.errors import PermanentFailure, TemporaryFailure


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"no such user")}), PermanentFailure, "550"),
        (smtplib.SMTPRecipientsRefused({"a@b.c": (452, b"mailbox full")}), TemporaryFailure, "452"),
        (smtplib.SMTPDataError(554, b"spam"), PermanentFailure, "554 spam"),
        (smtplib.SMTPDataError(451, b"later"), TemporaryFailure, "451"),
        (smtplib.SMTPSenderRefused(553, b"bad sender", "x@y"), TemporaryFailure, "553"),
        (smtplib.SMTPAuthenticationError(535, b"auth failed"), TemporaryFailure, "535"),
        (smtplib.SMTPServerDisconnected("gone"), TemporaryFailure, "closed the connection"),
        (ConnectionRefusedError(111, "refused"), TemporaryFailure, "refused the connection"),
        (TimeoutError(), TemporaryFailure, "did not answer in time"),
        (OSError("no route"), TemporaryFailure, "no route"),
    ],
)
def test_smtp_errors_are_classified(exc: BaseException, kind: type, text: str) -> None:
    failure = channels.classify_smtp_error(exc)
    assert isinstance(failure, kind)
    assert text in str(failure)


def test_apprise_errors_do_not_repeat_the_secret_url() -> None:
    with pytest.raises(Exception) as raised:
        channels.clean_apprise_url("discord://secret-token-x")
    assert "secret-token-x" not in str(raised.value)


def test_a_valid_apprise_url_is_kept() -> None:
    assert channels.clean_apprise_url("  ntfy://my-topic ") == "ntfy://my-topic"


def test_an_empty_email_target_means_the_account_address() -> None:
    assert channels.clean_email_address("  ") == ""
