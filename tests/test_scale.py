"""What only the scale setup has: PostgreSQL and Redis behind the same code."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.test import Client

from pricewatch.accounts.models import User


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_database_is_postgresql_and_emails_are_unique_ignoring_case() -> None:
    assert connection.vendor == "postgresql"
    User.objects.create(email="case@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        # bypass the manager's normalisation: the database itself must refuse it
        User(email="CASE@example.com").save()


@pytest.mark.redis
def test_cache_and_broker_are_redis() -> None:
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    cache.set("scale-probe", 42, 5)
    assert cache.get("scale-probe") == 42


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db
def test_ready_reports_all_parts_on_the_scale_setup(client: Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.content
