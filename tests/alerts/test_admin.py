"""The Django admin lists and opens rules, channels and notifications."""

from __future__ import annotations

import pytest
from django.test import Client

from pricewatch.alerts import evaluation
from pricewatch.alerts.models import AlertRule, Channel, Notification
from tests.alerts.conftest import make_user, record, tracked_offer, watch

pytestmark = pytest.mark.django_db


def test_admin_pages_for_alerts(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pricewatch.alerts.tasks.deliver_notifications.delay", lambda: None)
    admin = make_user(is_staff=True, is_superuser=True)
    user = make_user()
    offer = tracked_offer("100")
    watch(user, offer)
    record(offer, "50")
    evaluation.evaluate_pending()
    client.force_login(admin)

    for model in (AlertRule, Channel, Notification):
        name = model._meta.model_name
        assert client.get(f"/admin/alerts/{name}/").status_code == 200
        row = model.objects.first()
        assert row is not None
        assert client.get(f"/admin/alerts/{name}/{row.pk}/change/").status_code == 200

    notification = Notification.objects.get()
    Notification.objects.filter(pk=notification.pk).update(status="failed")
    response = client.post(
        "/admin/alerts/notification/",
        {"action": "resend", "_selected_action": [notification.pk]},
    )
    assert response.status_code == 302
    assert Notification.objects.get().status == "queued"
