"""Channel targets are checked before they are kept; Apprise errors hide the secret URL."""

from __future__ import annotations

import pytest

from pricewatch.alerts import channels


def test_apprise_errors_do_not_repeat_the_secret_url() -> None:
    with pytest.raises(Exception) as raised:
        channels.clean_apprise_url("discord://secret-token-x")
    assert "secret-token-x" not in str(raised.value)


def test_a_valid_apprise_url_is_kept() -> None:
    assert channels.clean_apprise_url("  ntfy://my-topic ") == "ntfy://my-topic"


def test_an_empty_email_target_means_the_account_address() -> None:
    assert channels.clean_email_address("  ") == ""
