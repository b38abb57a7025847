"""The mute link in every alert works without logging in, and only a POST mutes."""

from __future__ import annotations

import pytest
from django.test import Client

from pricewatch.alerts import links
from pricewatch.alerts.models import AlertRule, Notification
from tests.alerts.conftest import Recorder, make_user, parts, tracked_offer, watch
from tests.services import SMTPServer

pytestmark = pytest.mark.django_db


def mute_path(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_the_mute_link_in_the_mail_silences_the_rule(smtp: SMTPServer, price: Recorder) -> None:
    # given a user who got a price-drop mail
    user = make_user()
    offer = tracked_offer("100")
    watch(user, offer)
    price(offer, "60")
    text = parts(smtp.messages[0])["text/plain"]
    url = next(line.split(": ", 1)[1] for line in text.splitlines() if "Mute this alert" in line)
    client = Client(enforce_csrf_checks=True)

    # when they open the link (no login): a confirmation page, nothing muted yet
    page = client.get(mute_path(url))
    assert page.status_code == 200
    assert b"Mute this alert?" in page.content
    assert b"30 % below the first price for all your items" in page.content
    assert AlertRule.objects.get(owner=user).enabled

    # and confirm
    done = client.post(mute_path(url))
    assert done.status_code == 200 and b"Alert muted" in done.content
    rule = AlertRule.objects.get(owner=user)
    assert not rule.enabled and rule.muted_at is not None

    # then the next drop sends nothing
    price(offer, "100")
    price(offer, "55")
    assert len(smtp.messages) == 1


def test_rfc_8058_one_click_post_mutes_and_cancels_queued_alerts(
    price: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pricewatch.alerts.tasks.deliver_notifications.delay", lambda: None)
    user = make_user()
    offer = tracked_offer("100")
    watch(user, offer)
    price(offer, "60")
    rule = AlertRule.objects.get(owner=user)

    response = Client(enforce_csrf_checks=True).post(
        mute_path(links.mute_url(rule.pk)),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert not AlertRule.objects.get(pk=rule.pk).enabled
    assert Notification.objects.get().status == Notification.Status.MUTED


@pytest.mark.parametrize("token", ["nonsense", "eyJydWxlIjoxfQ:forged", ""])
def test_forged_or_mangled_tokens_are_refused(client: Client, token: str) -> None:
    user = make_user()
    AlertRule.objects.create(owner=user, kind="back_in_stock", scope="all")
    response = client.post(f"/alerts/mute/{token}")
    assert response.status_code == 404
    assert AlertRule.objects.get().enabled


def test_a_token_for_a_deleted_rule_is_not_valid(client: Client) -> None:
    rule = AlertRule.objects.create(owner=make_user(), kind="back_in_stock", scope="all")
    url = links.mute_url(rule.pk)
    rule.delete()
    assert client.get(mute_path(url)).status_code == 404
