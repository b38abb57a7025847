"""Test settings: the real settings, pointed at a throw-away var directory."""

import os
from pathlib import Path

os.environ.setdefault("PRICEWATCH_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))
os.environ.setdefault("PRICEWATCH_ENV_FILE", "/nonexistent")  # a developer's .env must not leak in
if os.environ.get("REDIS_URL"):
    os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-django-checks")

from pricewatch.settings import *  # noqa: E402,F403
from pricewatch.settings import DATABASES, VAR_DIR  # noqa: E402

# Hashing with the production hasher would dominate the suite's run time.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the worker process started by the task tests opens the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
# The worker process started by task tests sets PRICEWATCH_TEST_EAGER=0.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("PRICEWATCH_TEST_EAGER", "1") == "1"
SITE_URL = "http://testserver"
