"""ASGI entry point: Django behind a body-size guard."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricewatch.settings")
# Each ASGI request runs its sync code in a thread of its own: pool PostgreSQL connections.
os.environ.setdefault("DATABASE_POOL", "true")
django_application = get_asgi_application()

from pricewatch.core.asgi_limits import BodyLimitMiddleware  # noqa: E402  (needs Django set up)

application = BodyLimitMiddleware(django_application)  # type: ignore[arg-type]
