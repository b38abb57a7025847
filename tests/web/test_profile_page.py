"""The profile page (Django test client): names, time zone and notification settings."""

from __future__ import annotations

from datetime import time

import pytest
from django.test import Client

from pricewatch.accounts.models import User
from pricewatch.alerts.models import AlertPreferences
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(client: Client) -> User:
    person: User = UserFactory(email="ada@example.com", first_name="Ada")
    client.force_login(person)
    return person


def test_the_profile_needs_sign_in(client: Client) -> None:
    response = client.get("/profile/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/profile/"


def test_the_profile_shows_the_settings_and_links_to_allauth(client: Client, user: User) -> None:
    html = client.get("/profile/").content.decode()

    assert 'value="Ada"' in html
    assert 'href="/accounts/password/change/"' in html
    assert 'href="/accounts/email/"' in html
    assert 'name="quiet_start"' in html and 'name="digest_hour"' in html


def test_save_names_and_time_zone(client: Client, user: User) -> None:
    response = client.post(
        "/profile/", {"first_name": " Grace ", "last_name": "Hopper", "time_zone": "Europe/Berlin"}
    )

    user.refresh_from_db()
    assert response.status_code == 302
    assert (user.first_name, user.last_name, user.time_zone) == ("Grace", "Hopper", "Europe/Berlin")
    assert "Profile saved." in client.get("/profile/").content.decode()


def test_a_bad_time_zone_shows_the_error_and_changes_nothing(client: Client, user: User) -> None:
    response = client.post(
        "/profile/", {"first_name": "Eve", "last_name": "", "time_zone": "Mars/Olympus_Mons"}
    )

    user.refresh_from_db()
    assert response.status_code == 422
    assert "Select a valid choice. Mars/Olympus_Mons is not one of" in response.content.decode()
    assert (user.first_name, user.time_zone) == ("Ada", "UTC")


def test_save_quiet_hours_and_the_daily_digest(client: Client, user: User) -> None:
    response = client.post(
        "/profile/notifications",
        {"quiet_start": "22:00", "quiet_end": "07:30", "digest": "on", "digest_hour": "8"},
    )

    preferences = AlertPreferences.objects.get(user=user)
    assert response.status_code == 302
    assert (preferences.quiet_start, preferences.quiet_end) == (time(22), time(7, 30))
    assert preferences.digest and preferences.digest_hour == 8
    assert 'value="22:00"' in client.get("/profile/").content.decode()


def test_half_set_quiet_hours_show_the_services_reason(client: Client, user: User) -> None:
    response = client.post(
        "/profile/notifications", {"quiet_start": "22:00", "quiet_end": "", "digest_hour": "8"}
    )

    assert response.status_code == 422
    assert "Quiet hours need both a start and an end" in response.content.decode()
    assert AlertPreferences.objects.get(user=user).quiet_start is None
