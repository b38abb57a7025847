"""pricewatch: a self-hostable product catalog and price-monitoring platform."""

# Load the Celery app with Django, so every @shared_task binds to it (and its broker settings).
from pricewatch.celery import app as celery_app

__version__ = "0.1.0"
__all__ = ["celery_app"]
