"""pricewatch settings: one file, driven by environment variables (and an optional `.env`).

Two ways to run the same code:
- embedded (default): SQLite and a file-system Celery broker under PRICEWATCH_VAR_DIR, local-memory
  cache, mail written to files. Secrets are generated once and kept under the var directory.
- scale: DATABASE_URL (PostgreSQL) + REDIS_URL (broker, cache). SECRET_KEY must then be given.
Every variable is documented in `.env.example`.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from pricewatch.core import secrets

BASE_DIR = Path(__file__).resolve().parent

env = environ.Env()
ENV_FILE = Path(os.environ.get("PRICEWATCH_ENV_FILE", ".env"))
if ENV_FILE.is_file():
    # Values already in the environment win over the file.
    env.read_env(str(ENV_FILE), overwrite=False)

VAR_DIR = Path(env.str("PRICEWATCH_VAR_DIR", default="var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

REDIS_URL: str | None = env.str("REDIS_URL", default=None) or None
EMBEDDED = REDIS_URL is None

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured("SECRET_KEY must be set when running at scale (REDIS_URL set).")
    SECRET_KEY = secrets.read_or_create_secret_key(VAR_DIR / "secret_key")

SIGNUP_OPEN = env.bool("SIGNUP_OPEN", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "ninja",
    "django_celery_results",
    "allauth",
    "allauth.account",
    "allauth.headless",
    "pricewatch.core",
    "pricewatch.accounts",
    "pricewatch.pricing",
    "pricewatch.catalog",
    "pricewatch.tracking",
    "pricewatch.analytics",
    "pricewatch.offers",
    "pricewatch.alerts",
    "pricewatch.web",
]

MIDDLEWARE = [
    "pricewatch.core.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "pricewatch.core.middleware.ApiErrorShapeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "pricewatch.analytics.middleware.ApiProductViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "pricewatch.urls"
WSGI_APPLICATION = "pricewatch.wsgi.application"
ASGI_APPLICATION = "pricewatch.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pricewatch.web.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'pricewatch.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while the worker writes; IMMEDIATE transactions take the
        # write lock up front so two writers queue on busy_timeout instead of failing mid-way.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
# The web server's threads and the workers keep their connections (see pricewatch.asgi).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# Threads per web process serving requests (each keeps one database connection).
WEB_THREADS = env.int("WEB_THREADS", default=8)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and sessions ---------------------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
            "KEY_PREFIX": "pricewatch",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Accounts -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"

ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_SIGNUP_FORM_CLASS = "pricewatch.accounts.forms.SignupForm"
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
# The API must answer a duplicate sign-up with a clear 400; allauth's enumeration prevention would
# instead pretend success. A self-hosted tool's users are better served by the honest answer.
ACCOUNT_PREVENT_ENUMERATION = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[pricewatch] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
ACCOUNT_ADAPTER = "pricewatch.accounts.adapters.AccountAdapter"
ACCOUNT_RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)

HEADLESS_ONLY = False
HEADLESS_CLIENTS = ("app",)
HEADLESS_SERVE_SPECIFICATION = True
HEADLESS_TOKEN_STRATEGY = "pricewatch.accounts.tokens.TokenStrategy"  # noqa: S105
HEADLESS_JWT_ALGORITHM = "RS256"
HEADLESS_JWT_PRIVATE_KEY = env.str("JWT_PRIVATE_KEY", default="").replace("\\n", "\n")
if not HEADLESS_JWT_PRIVATE_KEY and env.str("JWT_PRIVATE_KEY_FILE", default=""):
    HEADLESS_JWT_PRIVATE_KEY = Path(env.str("JWT_PRIVATE_KEY_FILE")).read_text()
if not HEADLESS_JWT_PRIVATE_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE must be set when running at scale."
        )
    HEADLESS_JWT_PRIVATE_KEY = secrets.read_or_create_rsa_key(VAR_DIR / "jwt_private_key.pem")
HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN = env.int("JWT_ACCESS_TOKEN_LIFETIME", default=300)
HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN = env.int("JWT_REFRESH_TOKEN_LIFETIME", default=86400 * 14)
# Access tokens are checked against the live session, so logging out revokes them at once.
HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED = True
HEADLESS_JWT_ROTATE_REFRESH_TOKEN = True

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the apps' static folders: no collectstatic step before `make run`.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security -------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Request size ---------------------------------------------------------------------------
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=2 * 1024 * 1024)
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=100 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# Paths under these prefixes take file uploads and may send up to MAX_UPLOAD_BYTES.
UPLOAD_PATH_PREFIXES: tuple[str, ...] = ("/api/v1/imports", "/catalog/imports/")

# --- CORS -----------------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/(api|_allauth)/.*$"
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "x-request-id",
    "x-session-token",
]
CORS_EXPOSE_HEADERS = ["x-request-id", "retry-after"]

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
    EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
else:
    EMAIL_BACKEND = "pricewatch.core.mail.FileMailBackend"
MAIL_DIR = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="pricewatch <pricewatch@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "pwfilesystem://"  # pricewatch.core.broker: kombu's, with atomic writes
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 86400
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Extra task modules to load (plugins, or the test suite's own tasks).
CELERY_IMPORTS = env.list("CELERY_EXTRA_IMPORTS", default=[])
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
DISPATCH_INTERVAL_SECONDS = env.float("DISPATCH_INTERVAL_SECONDS", default=5.0)

# --- Catalog --------------------------------------------------------------------------------
# Where uploaded feeds wait for the worker (and stay for the report's sake).
IMPORT_DIR = Path(env.str("PRICEWATCH_IMPORT_DIR", default=str(VAR_DIR / "imports")))
# Large feeds are staged (parsed, validated) in this many worker processes (1: in-process).
IMPORT_WORKERS = env.int("IMPORT_WORKERS", default=min(os.cpu_count() or 1, 4))
# ...when the file has at least this many bytes (smaller ones are not worth the processes).
IMPORT_PARALLEL_MIN_BYTES = env.int("IMPORT_PARALLEL_MIN_BYTES", default=8 * 1024 * 1024)
# Product edits through the API are mailed to admins in one batch per this many seconds.
CATALOG_NOTICE_BATCH_SECONDS = env.int("CATALOG_NOTICE_BATCH_SECONDS", default=60)
CATALOG_NOTICE_QUIET_SECONDS = env.int("CATALOG_NOTICE_QUIET_SECONDS", default=15)
CATALOG_FACET_CACHE_SECONDS = env.int("CATALOG_FACET_CACHE_SECONDS", default=30)
# Up to this many active products, facet counts, list totals and the order of list pages come
# from an in-memory copy of the catalog's facet columns in each web process (~60 bytes a product,
# rebuilt in ~0.2 s per 100,000 products); 0 = always by the database.
CATALOG_FACET_INDEX_MAX_PRODUCTS = env.int("CATALOG_FACET_INDEX_MAX_PRODUCTS", default=500_000)

# --- Tracking -------------------------------------------------------------------------------
# `pricewatch run` starts the demo shop beside the site, so a first visitor can track a product
# without the internet; the fetcher may reach that one address (FETCH_ALLOW_NETWORKS below).
DEMO_SHOP_PORT = env.int("DEMO_SHOP_PORT", default=8001)
RUN_DEMO_SHOP = env.bool("RUN_DEMO_SHOP", default=EMBEDDED)
DEMO_SHOP_URL = f"http://127.0.0.1:{DEMO_SHOP_PORT}/" if RUN_DEMO_SHOP else ""
# Addresses the fetcher may reach although they are not public: CIDRs, host names, or host:port
# (the embedded default lets the demo shop in, and nothing else on this machine).
FETCH_ALLOW_NETWORKS = env.list(
    "FETCH_ALLOW_NETWORKS", default=[f"127.0.0.1:{DEMO_SHOP_PORT}"] if EMBEDDED else []
)
FETCH_RESPECT_ROBOTS = env.bool("FETCH_RESPECT_ROBOTS", default=True)
FETCH_PROXY = env.str("FETCH_PROXY", default="") or None
# "shop.example=http://proxy:3128,other.example=socks5://..." (per-domain proxies)
FETCH_DOMAIN_PROXIES = env.dict("FETCH_DOMAIN_PROXIES", default={})
# Domains always rendered in headless Chromium; others only when the static page has no price.
FETCH_JS_DOMAINS = env.list("FETCH_JS_DOMAINS", default=[])
FETCH_RENDER_FALLBACK = env.bool("FETCH_RENDER_FALLBACK", default=True)
FETCH_CHROMIUM_PATH = env.str("FETCH_CHROMIUM_PATH", default="/usr/bin/chromium")
FETCH_PER_HOST_CONCURRENCY = env.int("FETCH_PER_HOST_CONCURRENCY", default=2)
FETCH_PER_HOST_MIN_DELAY = env.float("FETCH_PER_HOST_MIN_DELAY", default=1.0)
TRACKING_MIN_INTERVAL_MINUTES = env.int("TRACKING_MIN_INTERVAL_MINUTES", default=5)
# A leased check not finished after this long is assumed lost and dispatched again.
TRACKING_CHECK_LEASE_SECONDS = env.int("TRACKING_CHECK_LEASE_SECONDS", default=600)
TRACKING_CHECK_NOW_RATE = env.str("TRACKING_CHECK_NOW_RATE", default="10/m")
# Pages leased per dispatcher tick: more would wait in the queue while their leases run out.
TRACKING_DISPATCH_MAX_PAGES = env.int("TRACKING_DISPATCH_MAX_PAGES", default=5000)

# --- Offers service (off without a base URL) ------------------------------------------------
OFFERS_BASE_URL = env.str("OFFERS_BASE_URL", default="")
OFFERS_REFRESH_TOKEN = env.str("OFFERS_REFRESH_TOKEN", default="")
OFFERS_POLL_SECONDS = env.int("OFFERS_POLL_SECONDS", default=60)
OFFERS_CURRENCY = env.str("OFFERS_CURRENCY", default="EUR")


# --- Admin bootstrap ------------------------------------------------------------------------
PRICEWATCH_ADMIN_EMAIL = env.str("PRICEWATCH_ADMIN_EMAIL", default="")
PRICEWATCH_ADMIN_PASSWORD = env.str("PRICEWATCH_ADMIN_PASSWORD", default="")

# --- API ------------------------------------------------------------------------------------
NINJA_PAGINATION_MAX_LIMIT = 100
API_THROTTLE_ANON = env.str("API_THROTTLE_ANON", default="120/m")
API_THROTTLE_USER = env.str("API_THROTTLE_USER", default="600/m")

# --- Visit analytics ----------------------------------------------------------------------
ANALYTICS_ENABLED = env.bool("ANALYTICS_ENABLED", default=True)
# Count GET /api/v1/products/{id} as a view too (the web product page always counts).
ANALYTICS_COUNT_API = env.bool("ANALYTICS_COUNT_API", default=True)
# Peers whose X-Forwarded-For is believed (addresses or CIDR networks); others' is ignored.
ANALYTICS_TRUSTED_PROXIES = env.list("ANALYTICS_TRUSTED_PROXIES", default=[])
ANALYTICS_RESPECT_DNT = env.bool("ANALYTICS_RESPECT_DNT", default=True)
ANALYTICS_RETENTION_DAYS = env.int("ANALYTICS_RETENTION_DAYS", default=90)
# Reloads of the same product by the same visitor within this many seconds count once.
ANALYTICS_RELOAD_SECONDS = env.int("ANALYTICS_RELOAD_SECONDS", default=10)
ANALYTICS_MAX_VIEWS_PER_ADDRESS_PER_MINUTE = env.int(
    "ANALYTICS_MAX_VIEWS_PER_ADDRESS_PER_MINUTE", default=60
)
ANALYTICS_VISIT_TIMEOUT_MINUTES = env.int("ANALYTICS_VISIT_TIMEOUT_MINUTES", default=30)
ANALYTICS_MAX_VISIT_MINUTES = env.int("ANALYTICS_MAX_VISIT_MINUTES", default=120)
ANALYTICS_ENGAGED_SECONDS = env.int("ANALYTICS_ENGAGED_SECONDS", default=10)
ANALYTICS_BEACON_MIN_SECONDS = env.int("ANALYTICS_BEACON_MIN_SECONDS", default=5)
ANALYTICS_MAX_RANGE_DAYS = env.int("ANALYTICS_MAX_RANGE_DAYS", default=366)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="text").lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'text' or 'json'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "pricewatch.core.logging.ContextFilter"},
        "redact": {"()": "pricewatch.core.logging.RedactingFilter"},
    },
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)-7s %(name)s [%(ctx)s] %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log replaces these access logs; errors still reach the root logger.
        "django.server": {"level": "WARNING"},
        "uvicorn.access": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "celery.app.trace": {"level": "WARNING"},
        # The dispatcher ticks every few seconds: its "sending" and "received" lines are noise.
        "celery.beat": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        # One INFO line per fetched page is noise; our checks log what matters.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
