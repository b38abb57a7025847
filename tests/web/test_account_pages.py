"""The account journey in the web pages, in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from tests.web.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_verify_log_in_and_out_in_the_browser(page: Any, live_server: Any) -> None:
    base = live_server.url
    page.goto(f"{base}/")
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("input[name=email]", "grace@example.com")
    page.fill("input[name=first_name]", "Grace")
    page.fill("input[name=password1]", "a long enough pass phrase")
    shot(page, "signup-form")
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    assert "verify" in page.content().lower()

    link = re.search(r"(https?://\S+/accounts/confirm-email/\S+/)", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body
    page.goto(link.group(1))
    page.get_by_role("button", name="Confirm").click()

    page.goto(f"{base}/accounts/login/")
    if page.locator("input[name=login]").count():
        page.fill("input[name=login]", "grace@example.com")
        page.fill("input[name=password]", "a long enough pass phrase")
        page.get_by_role("button", name="Sign In").click()
    page.goto(f"{base}/")
    assert page.get_by_text("Signed in as").is_visible()
    assert "grace@example.com" in page.content()
    shot(page, "home-signed-in")

    page.get_by_role("button", name="Log out").click()
    page.goto(f"{base}/")
    assert page.get_by_role("link", name="Log in", exact=True).is_visible()
    assert "Signed in as" not in page.content()


def test_pages_needing_sign_in_redirect_there_and_back(page: Any, live_server: Any) -> None:
    page.goto(f"{live_server.url}/accounts/email/")
    assert "/accounts/login/" in page.url
    assert "next=/accounts/email/" in page.url
