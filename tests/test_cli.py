"""The `pricewatch` command as a person uses it, in real processes."""

from __future__ import annotations

import os
import shelve
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from tests.services import ROOT, free_port

COMMANDS = ["run", "web", "worker", "scheduler", "createadmin", "migrate"]


def _pricewatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pricewatch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = _pricewatch(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_top_level_help_lists_our_commands() -> None:
    result = _pricewatch("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.django_db
def test_createadmin_creates_then_updates_a_verified_admin() -> None:
    from allauth.account.models import EmailAddress

    from pricewatch.accounts.models import User

    call_command(
        "createadmin",
        "--email",
        "Boss@Example.com",
        "--password",
        "a long admin pass",
        "--no-input",
    )
    admin = User.objects.get(email="boss@example.com")
    assert admin.is_staff and admin.is_superuser
    assert EmailAddress.objects.get(user=admin).verified
    call_command(
        "createadmin",
        "--email",
        "boss@example.com",
        "--password",
        "another admin pass",
        "--no-input",
    )
    admin.refresh_from_db()
    assert admin.check_password("another admin pass")
    assert User.objects.count() == 1


def test_run_starts_web_worker_scheduler_and_demo_shop_and_ctrl_c_stops_them(
    tmp_path: Path,
) -> None:
    port, shop_port = free_port(), free_port()
    # The embedded mode, whatever mode this suite runs in: no scale variables, no given secrets.
    scale_only = {
        "DATABASE_URL",
        "REDIS_URL",
        "DJANGO_SETTINGS_MODULE",
        "SECRET_KEY",
        "JWT_PRIVATE_KEY",
        "JWT_PRIVATE_KEY_FILE",
    }
    env = {k: v for k, v in os.environ.items() if k not in scale_only}
    env.update(
        PRICEWATCH_VAR_DIR=str(tmp_path / "var"),
        PRICEWATCH_ADMIN_EMAIL="admin@example.com",
        PRICEWATCH_ADMIN_PASSWORD="admin pass phrase",
        DISPATCH_INTERVAL_SECONDS="1",
        DEMO_SHOP_PORT=str(shop_port),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "pricewatch", "run", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        ready = _wait_for(f"http://127.0.0.1:{port}/ready", timeout=60)
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}
        login = httpx.post(
            f"http://127.0.0.1:{port}/_allauth/app/v1/auth/login",
            json={"email": "admin@example.com", "password": "admin pass phrase"},
        )
        assert login.status_code == 200  # the admin from the environment exists and is verified
        assert (tmp_path / "var" / "secret_key").exists()
        assert (tmp_path / "var" / "jwt_private_key.pem").exists()
        shop = _wait_for(f"http://127.0.0.1:{shop_port}/", timeout=30)
        assert "/products/" in shop.text  # the demo shop, to track without the internet
        time.sleep(3)  # let the scheduler tick the dispatcher through the worker
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output
    # The scheduler keeps its entries (with how often each was sent) in var/.
    with shelve.open(str(tmp_path / "var" / "celerybeat-schedule"), flag="r") as schedule:
        assert schedule["entries"]["dispatch-due-work"].total_run_count >= 1, output
    assert "celery@" in output and "ready" in output  # worker
    assert "Stopped." in output


def _wait_for(url: str, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout}s")
        time.sleep(0.3)
