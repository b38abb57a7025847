from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_health_says_ok(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_checks_database_broker_and_cache(client: Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}


def test_ready_names_the_part_that_is_down(
    client: Client, settings: object, tmp_path: Path
) -> None:
    if not settings.CELERY_BROKER_URL.startswith("pwfilesystem://"):  # type: ignore[attr-defined]
        settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # type: ignore[attr-defined]
    else:
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {  # type: ignore[attr-defined]
            "data_folder_in": str(tmp_path / "missing")
        }
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert "broker" in body["detail"]
    assert body["checks"]["database"] == "ok"
