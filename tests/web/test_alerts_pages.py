"""The alerts page (Django test client): rules, channels with test sends, notification history."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from pricewatch.accounts.models import User
from pricewatch.alerts.models import AlertRule, Channel, Notification
from tests.accounts.factories import UserFactory
from tests.pricing.factories import make_offer
from tests.services import SMTPServer
from tests.tracking.factories import make_item, make_watchlist

pytestmark = pytest.mark.django_db
_keys = itertools.count(1)


@pytest.fixture
def user(client: Client) -> User:
    person: User = UserFactory(email="ada@example.com")
    client.force_login(person)
    return person


def notification(owner: User, **fields: Any) -> Notification:
    channel = (
        fields.pop("channel", None)
        or Channel.objects.get_or_create(owner=owner, kind="email", target="")[0]
    )
    values: dict[str, Any] = {
        "owner": owner,
        "channel": channel,
        "offer": make_offer(price="10.00", title="Espresso machine"),
        "dedupe_key": f"test-{next(_keys)}",
        "kind": AlertRule.Kind.DROP_FROM_FIRST,
        "fired_at": timezone.now(),
        "due_at": timezone.now(),
        "status": Notification.Status.FAILED,
        "attempts": 5,
        "last_error": "550 mailbox unavailable",
    }
    values.update(fields)
    return Notification.objects.create(**values)


def test_the_page_needs_sign_in(client: Client) -> None:
    response = client.get("/notifications/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/notifications/"


def test_a_new_user_sees_the_default_rule_and_the_account_address(
    client: Client, user: User
) -> None:
    html = client.get("/notifications/").content.decode()

    assert "Dropped X % below the first price" in html
    assert "30 %" in html
    assert "ada@example.com" in html and "(your account address)" in html
    assert "No notifications" in html


def test_create_toggle_and_delete_rules(client: Client, user: User) -> None:
    watchlist = make_watchlist(owner=user, name="Kitchen")
    item = make_item(watchlist=watchlist)

    for_list = client.post(
        "/notifications/rules/",
        {
            "kind": "target_price",
            "scope": "watchlist",
            "watchlist": watchlist.pk,
            "target_price": "49.90",
            "percent": "12",
        },
    )
    for_item = client.post(
        "/notifications/rules/",
        {"kind": "lowest_in_days", "scope": "item", "item": item.pk, "days": "30"},
    )
    rule = AlertRule.objects.get(kind="target_price")
    client.post(f"/notifications/rules/{rule.pk}/toggle")
    html = client.get("/notifications/").content.decode()

    assert (for_list.status_code, for_item.status_code) == (302, 302)
    assert rule.watchlist == watchlist and rule.percent is None  # percent ignored for targets
    assert AlertRule.objects.get(kind="lowest_in_days").item == item
    assert not AlertRule.objects.get(pk=rule.pk).enabled
    assert "List: Kitchen" in html and "at most 49.9" in html

    client.post(f"/notifications/rules/{rule.pk}/delete")
    assert not AlertRule.objects.filter(pk=rule.pk).exists()


def test_a_rule_the_service_refuses_shows_its_reason(client: Client, user: User) -> None:
    response = client.post("/notifications/rules/", {"kind": "drop_from_first", "scope": "all"})
    outsider = make_watchlist(owner=UserFactory())
    foreign = client.post(
        "/notifications/rules/",
        {"kind": "back_in_stock", "scope": "watchlist", "watchlist": outsider.pk},
    )

    assert response.status_code == 422
    assert "A drop rule needs a percentage" in response.content.decode()
    assert foreign.status_code == 422  # not one of the user's lists: not even a choice
    assert not AlertRule.objects.filter(kind="back_in_stock").exists()


def test_add_channels_and_see_why_an_apprise_url_is_refused(client: Client, user: User) -> None:
    email = client.post("/notifications/channels/", {"kind": "email", "target": "me@work.test"})
    apprise = client.post(
        "/notifications/channels/", {"kind": "apprise", "target": "json://127.0.0.1:9/hook"}
    )
    bad = client.post("/notifications/channels/", {"kind": "apprise", "target": "nope://x"})
    no_scheme = client.post("/notifications/channels/", {"kind": "apprise", "target": "hello"})

    assert (email.status_code, apprise.status_code) == (302, 302)
    assert Channel.objects.filter(owner=user, target="me@work.test").exists()
    assert bad.status_code == 422
    assert "Apprise cannot use this URL" in bad.content.decode()
    assert "needs a scheme" in no_scheme.content.decode()


def test_toggle_and_delete_a_channel(client: Client, user: User) -> None:
    channel = Channel.objects.create(owner=user, kind="email", target="me@work.test")

    client.post(f"/notifications/channels/{channel.pk}/toggle")
    channel.refresh_from_db()
    assert not channel.enabled
    client.post(f"/notifications/channels/{channel.pk}/delete")
    assert not Channel.objects.filter(pk=channel.pk).exists()


def test_send_a_test_to_an_email_channel_through_a_real_smtp_server(
    client: Client, user: User, settings: Any, smtp_server: SMTPServer
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    channel = Channel.objects.create(owner=user, kind="email", target="me@work.test")

    response = client.post(f"/notifications/channels/{channel.pk}/test", follow=True)

    assert "Test notification sent to me@work.test." in response.content.decode()
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "me@work.test"


def test_a_failing_test_send_shows_the_error(client: Client, user: User, settings: Any) -> None:
    from tests.services import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2
    channel = Channel.objects.create(owner=user, kind="email", target="me@work.test")

    html = client.post(f"/notifications/channels/{channel.pk}/test", follow=True).content.decode()

    assert "The test to me@work.test failed:" in html
    channel.refresh_from_db()
    assert channel.last_test_error
    assert channel.last_test_error in html.replace("&#x27;", "'")


def test_history_shows_status_attempts_and_error_and_resends_failed_ones(
    client: Client, user: User, settings: Any
) -> None:
    failed = notification(user)
    sent = notification(
        user, status=Notification.Status.SENT, attempts=1, last_error="", sent_at=timezone.now()
    )

    html = client.get("/notifications/").content.decode()
    response = client.post(f"/notifications/{failed.pk}/resend")
    refused = client.post(f"/notifications/{sent.pk}/resend", follow=True)

    assert '<span class="pill failed">Failed</span>' in html
    assert '<span class="pill sent">Sent</span>' in html
    assert "550 mailbox unavailable" in html
    assert html.count(">Resend</button>") == 1
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Notification.Status.QUEUED, 0)
    assert "Only failed or muted notifications can be resent" in refused.content.decode()


def test_history_is_paginated_and_filtered_by_status(client: Client, user: User) -> None:
    channel = Channel.objects.create(owner=user, kind="email", target="me@work.test")
    for _ in range(21):
        notification(user, channel=channel, status=Notification.Status.SENT, last_error="")
    notification(user, channel=channel)

    first = client.get("/notifications/").content.decode()
    second = client.get("/notifications/", {"page": 2}).content.decode()
    failed_only = client.get("/notifications/", {"status": "failed"}).content.decode()

    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert failed_only.count('<span class="pill failed">') == 1
    assert '<span class="pill sent">' not in failed_only.split('id="history"')[1]


def test_another_users_objects_are_404(client: Client, user: User) -> None:
    other = UserFactory()
    rule = AlertRule.objects.create(owner=other, kind="back_in_stock", scope="all")
    channel = Channel.objects.create(owner=other, kind="email", target="x@y.test")
    theirs = notification(other, channel=channel)

    answers = [
        client.post(f"/notifications/rules/{rule.pk}/toggle").status_code,
        client.post(f"/notifications/rules/{rule.pk}/delete").status_code,
        client.post(f"/notifications/channels/{channel.pk}/toggle").status_code,
        client.post(f"/notifications/channels/{channel.pk}/test").status_code,
        client.post(f"/notifications/channels/{channel.pk}/delete").status_code,
        client.post(f"/notifications/{theirs.pk}/resend").status_code,
    ]

    assert answers == [404] * 6
    assert AlertRule.objects.get(pk=rule.pk).enabled
    assert Channel.objects.filter(pk=channel.pk).exists()
    assert Notification.objects.get(pk=theirs.pk).status == Notification.Status.FAILED
