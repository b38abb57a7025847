"""The alerts API: rules, channels, notifications and settings, each scoped to its owner."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pricewatch.alerts.models import AlertRule, Channel, Notification
from tests.accounts.conftest import Api
from tests.alerts.conftest import make_user, record, tracked_offer, watch
from tests.services import SMTPServer

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


@pytest.fixture
def ann(api: Api) -> tuple[Any, str]:
    user = make_user(email="ann@example.com")
    return user, api.login(user.email)["access_token"]


def test_rules_crud_and_the_default_rule(api: Api, ann: tuple[Any, str]) -> None:
    user, token = ann
    item = watch(user, tracked_offer("100"), target="80")

    listed = api.call("GET", f"{V1}/alert-rules", token=token).json()
    assert listed["count"] == 1
    [default] = listed["items"]
    assert (default["kind"], default["scope"], default["percent"], default["is_default"]) == (
        "drop_from_first",
        "all",
        "30.00",
        True,
    )

    created = api.call(
        "POST",
        f"{V1}/alert-rules",
        {"kind": "target_price", "scope": "item", "item_id": item.pk, "cooldown_minutes": 60},
        token=token,
    )
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]

    changed = api.call("PATCH", f"{V1}/alert-rules/{default['id']}", {"percent": "40"}, token=token)
    assert changed.status_code == 200 and changed.json()["percent"] == "40.00"
    muted = api.call("PATCH", f"{V1}/alert-rules/{rule_id}", {"enabled": False}, token=token)
    assert muted.json()["enabled"] is False and muted.json()["muted_at"]

    assert api.call("DELETE", f"{V1}/alert-rules/{rule_id}", token=token).status_code == 204
    assert api.call("GET", f"{V1}/alert-rules/{rule_id}", token=token).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "drop_from_first", "scope": "all"}, "percent"),
        ({"kind": "drop_from_first", "scope": "all", "percent": "100"}, "percent"),
        ({"kind": "drop_from_first", "scope": "all", "percent": "-5"}, "percent"),
        ({"kind": "lowest_in_days", "scope": "all"}, "days"),
        ({"kind": "lowest_in_days", "scope": "all", "days": 9999}, "days"),
        ({"kind": "back_in_stock", "scope": "all", "percent": "10"}, "percent"),
        ({"kind": "back_in_stock", "scope": "item"}, "item_id"),
        ({"kind": "back_in_stock", "scope": "all", "item_id": 1}, "item_id"),
        ({"kind": "back_in_stock", "scope": "watchlist", "watchlist_id": 99999}, "watchlist_id"),
        ({"kind": "target_price", "scope": "all", "target_price": "-1"}, "target_price"),
        ({"kind": "back_in_stock", "scope": "all", "cooldown_minutes": 0}, "cooldown_minutes"),
        ({"kind": "sometimes", "scope": "all"}, "kind"),
        ({"kind": "back_in_stock", "scope": "all", "colour": "red"}, "colour"),
    ],
)
def test_bad_rules_are_refused_with_the_field(
    api: Api, ann: tuple[Any, str], body: dict[str, Any], field: str
) -> None:
    _, token = ann
    response = api.call("POST", f"{V1}/alert-rules", body, token=token)
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]


def test_a_target_rule_for_an_item_without_target_needs_a_price(
    api: Api, ann: tuple[Any, str]
) -> None:
    user, token = ann
    item = watch(user, tracked_offer("100"))
    body = {"kind": "target_price", "scope": "item", "item_id": item.pk}
    response = api.call("POST", f"{V1}/alert-rules", body, token=token)
    assert response.status_code == 422 and "target_price" in response.json()["fields"]


def test_other_users_rules_channels_and_notifications_are_404(
    api: Api, ann: tuple[Any, str]
) -> None:
    _, token = ann
    bob = make_user()
    bob_item = watch(bob, tracked_offer("100"))
    rule = AlertRule.objects.create(owner=bob, kind="back_in_stock", scope="all")
    channel = Channel.objects.create(owner=bob, kind="email", target="bob@example.com")
    record(bob_item.offer, "10")
    from pricewatch.alerts import evaluation

    evaluation.evaluate_pending()
    notification = Notification.objects.filter(owner=bob).first()
    assert notification is not None

    for method, path in [
        ("GET", f"{V1}/alert-rules/{rule.pk}"),
        ("PATCH", f"{V1}/alert-rules/{rule.pk}"),
        ("DELETE", f"{V1}/alert-rules/{rule.pk}"),
        ("GET", f"{V1}/channels/{channel.pk}"),
        ("DELETE", f"{V1}/channels/{channel.pk}"),
        ("POST", f"{V1}/channels/{channel.pk}/test"),
        ("GET", f"{V1}/notifications/{notification.pk}"),
        ("POST", f"{V1}/notifications/{notification.pk}/resend"),
    ]:
        response = api.call(method, path, {} if method == "PATCH" else None, token=token)
        assert response.status_code == 404, (method, path, response.content)
    # nor can a rule point at bob's item
    body = {"kind": "back_in_stock", "scope": "item", "item_id": bob_item.pk}
    assert api.call("POST", f"{V1}/alert-rules", body, token=token).status_code == 422
    assert api.call("GET", f"{V1}/notifications", token=token).json()["count"] == 0


def test_anonymous_requests_are_401(api: Api) -> None:
    assert api.call("GET", f"{V1}/alert-rules").status_code == 401
    assert api.call("GET", f"{V1}/notifications").status_code == 401


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"kind": "email", "target": "not-an-address"}, "not a valid e-mail address"),
        ({"kind": "email", "target": "ann@example.com\nBcc: x@y.z"}, "not a valid e-mail"),
        ({"kind": "apprise", "target": ""}, "is required"),
        ({"kind": "apprise", "target": "example.com/hook"}, "needs a scheme"),
        ({"kind": "apprise", "target": "nosuchservice://abc"}, "Apprise cannot use this URL"),
        ({"kind": "apprise", "target": "tgram://not-a-token"}, "Apprise cannot use this URL"),
        # Webhooks must not turn the worker against our own network.
        ({"kind": "apprise", "target": "json://10.0.0.5:8080/hook"}, "private"),
        ({"kind": "apprise", "target": "xml://169.254.169.254/latest"}, "link-local"),
        ({"kind": "apprise", "target": "json://localhost:9000/x"}, "local address"),
    ],
)
def test_invalid_addresses_and_apprise_urls_are_refused_with_the_reason(
    api: Api, ann: tuple[Any, str], body: dict[str, str], reason: str
) -> None:
    _, token = ann
    response = api.call("POST", f"{V1}/channels", body, token=token)
    assert response.status_code == 422, response.content
    assert reason in response.json()["fields"]["target"]


def test_channels_crud_and_duplicates(api: Api, ann: tuple[Any, str]) -> None:
    _, token = ann
    listed = api.call("GET", f"{V1}/channels", token=token).json()
    assert [(c["kind"], c["target"], c["address"]) for c in listed["items"]] == [
        ("email", "", "ann@example.com")
    ]
    body = {"kind": "apprise", "target": "ntfy://pricewatch-alerts", "name": "Phone"}
    created = api.call("POST", f"{V1}/channels", body, token=token)
    assert created.status_code == 201, created.content
    assert api.call("POST", f"{V1}/channels", body, token=token).status_code == 409
    channel_id = created.json()["id"]
    patched = api.call(
        "PATCH", f"{V1}/channels/{channel_id}", {"enabled": False, "name": "Old"}, token=token
    )
    assert patched.json()["enabled"] is False and patched.json()["name"] == "Old"
    bad = api.call("PATCH", f"{V1}/channels/{channel_id}", {"target": "zzz://"}, token=token)
    assert bad.status_code == 422
    assert api.call("DELETE", f"{V1}/channels/{channel_id}", token=token).status_code == 204


def test_testing_an_email_channel_sends_a_mail(
    api: Api, ann: tuple[Any, str], smtp: SMTPServer
) -> None:
    _, token = ann
    [channel] = api.call("GET", f"{V1}/channels", token=token).json()["items"]
    response = api.call("POST", f"{V1}/channels/{channel['id']}/test", token=token)
    assert response.json() == {"ok": True, "error": ""}
    [message] = smtp.messages
    assert message["To"] == "ann@example.com" and "Test notification" in message["Subject"]


class _Hook(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[bytes]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.bodies = []
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"json://127.0.0.1:{server.server_address[1]}/hook", _Hook.bodies
    server.shutdown()


def test_testing_an_apprise_webhook_channel_reaches_it_and_reports_failures(
    api: Api, ann: tuple[Any, str], webhook: tuple[str, list[bytes]]
) -> None:
    _, token = ann
    url, bodies = webhook
    created = api.call("POST", f"{V1}/channels", {"kind": "apprise", "target": url}, token=token)
    channel_id = created.json()["id"]
    assert api.call("POST", f"{V1}/channels/{channel_id}/test", token=token).json()["ok"]
    assert len(bodies) == 1 and b"pricewatch test notification" in bodies[0]

    dead = api.call(
        "POST", f"{V1}/channels", {"kind": "apprise", "target": "json://127.0.0.1:9/x"}, token=token
    ).json()
    result = api.call("POST", f"{V1}/channels/{dead['id']}/test", token=token).json()
    assert result["ok"] is False and "Connection error" in result["error"]
    assert api.call("GET", f"{V1}/channels/{dead['id']}", token=token).json()["last_test_error"]


def test_notifications_list_resend_and_query_count(
    api: Api, ann: tuple[Any, str], refusing_smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user, token = ann
    refusing_smtp("550 5.1.1 no such user")
    for n in range(3):
        offer = tracked_offer("100", title=f"Thing {n}")
        watch(user, offer)
        with django_capture_on_commit_callbacks(execute=True):
            record(offer, "50")

    with CaptureQueriesContext(connection) as queries:
        page = api.call("GET", f"{V1}/notifications?page_size=2", token=token)
    assert page.status_code == 200
    body = page.json()
    assert (body["count"], body["pages"], len(body["items"])) == (3, 2, 2)
    assert "page=2" in body["next"] and body["previous"] is None
    item = body["items"][0]
    assert item["status"] == "failed" and "550" in item["last_error"]
    assert (item["old_price"], item["new_price"], item["percent"]) == (
        "100.00",
        "50.00",
        "50.00",
    )
    assert item["title"].startswith("Thing")
    # a fixed number of queries whatever the page size (session/auth + count + one page)
    with CaptureQueriesContext(connection) as more:
        api.call("GET", f"{V1}/notifications?page_size=3", token=token)
    assert len(more) == len(queries)

    filtered = api.call("GET", f"{V1}/notifications?status=sent", token=token).json()
    assert filtered["count"] == 0
    bad = api.call("GET", f"{V1}/notifications?status=lost", token=token)
    assert bad.status_code == 422

    with django_capture_on_commit_callbacks(execute=True):
        resent = api.call("POST", f"{V1}/notifications/{item['id']}/resend", token=token)
        assert resent.status_code == 200
        assert (resent.json()["status"], resent.json()["attempts"]) == ("queued", 0)
    # it was tried again after commit (and refused again: the address is still rejected)
    notification = Notification.objects.get(pk=item["id"])
    assert (notification.status, notification.attempts) == ("failed", 1)


def test_resending_a_sent_notification_is_a_conflict(
    api: Api, ann: tuple[Any, str], smtp: SMTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    user, token = ann
    offer = tracked_offer("100")
    watch(user, offer)
    with django_capture_on_commit_callbacks(execute=True):
        record(offer, "50")
    notification = Notification.objects.get(status="sent")
    response = api.call("POST", f"{V1}/notifications/{notification.pk}/resend", token=token)
    assert response.status_code == 409


def test_alert_settings(api: Api, ann: tuple[Any, str]) -> None:
    _, token = ann
    got = api.call("GET", f"{V1}/alert-settings", token=token).json()
    assert got == {
        "quiet_start": None,
        "quiet_end": None,
        "digest": False,
        "digest_hour": 8,
        "time_zone": "UTC",
    }
    body = {"quiet_start": "22:00", "quiet_end": "07:00", "digest": True, "digest_hour": 19}
    changed = api.call("PATCH", f"{V1}/alert-settings", body, token=token).json()
    assert (changed["quiet_start"], changed["digest_hour"]) == ("22:00:00", 19)
    half = api.call("PATCH", f"{V1}/alert-settings", {"quiet_end": None}, token=token)
    assert half.status_code == 422
    bad_hour = api.call("PATCH", f"{V1}/alert-settings", {"digest_hour": 24}, token=token)
    assert bad_hour.status_code == 422
    cleared = api.call(
        "PATCH", f"{V1}/alert-settings", {"quiet_start": None, "quiet_end": None}, token=token
    )
    assert cleared.json()["quiet_start"] is None


def test_an_alert_reaches_an_apprise_webhook_channel(
    api: Api,
    ann: tuple[Any, str],
    webhook: tuple[str, list[bytes]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    user, token = ann
    url, bodies = webhook
    api.call("GET", f"{V1}/channels", token=token)  # creates the defaults
    Channel.objects.filter(owner=user, kind="email").update(enabled=False)
    api.call("POST", f"{V1}/channels", {"kind": "apprise", "target": url}, token=token)
    offer = tracked_offer("100", title="Kettle")
    watch(user, offer)

    with django_capture_on_commit_callbacks(execute=True):
        record(offer, "64.50")

    [body] = bodies
    assert b"Kettle 35.5 % below its first price" in body
    assert b"\\u20ac100.00 \\u2192 \\u20ac64.50 (-35.5 %)" in body
    assert Notification.objects.get(channel__kind="apprise").status == "sent"
