from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "pricewatch.tracking"
    label = "tracking"
    verbose_name = "Price tracking"
