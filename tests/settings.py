"""Test settings: the real settings, pointed at a throw-away var directory."""

import os
from pathlib import Path

os.environ.setdefault(
    "PRICEWATCH_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test")
)
os.environ.setdefault("PRICEWATCH_ENV_FILE", "/nonexistent")  # a developer's .env must not leak in
if os.environ.get("REDIS_URL"):
    # Scale mode wants its secrets given; the tests make throw-away ones.
    from pricewatch.core import secrets

    _var = Path(os.environ["PRICEWATCH_VAR_DIR"])
    os.environ.setdefault("SECRET_KEY", secrets.read_or_create_secret_key(_var / "secret_key"))
    os.environ.setdefault("JWT_PRIVATE_KEY_FILE", str(_var / "jwt_private_key.pem"))
    secrets.read_or_create_rsa_key(_var / "jwt_private_key.pem")

from pricewatch.settings import *  # noqa: F403
from pricewatch.settings import DATABASES, VAR_DIR

# Hashing with the production hasher would dominate the suite's run time.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the worker process started by the task tests opens the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
# The worker process started by task tests sets PRICEWATCH_TEST_EAGER=0.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("PRICEWATCH_TEST_EAGER", "1") == "1"
SITE_URL = "http://testserver"
# Test shops and services listen on 127.0.0.1; nothing else private may be fetched.
FETCH_ALLOW_NETWORKS = ["127.0.0.0/8"]
FETCH_PER_HOST_MIN_DELAY = 0.0
