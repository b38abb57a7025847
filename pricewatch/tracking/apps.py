from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "pricewatch.tracking"
    label = "tracking"
    verbose_name = "Price tracking"

    def ready(self) -> None:
        from pricewatch.core import dispatchers  # models must be loaded before the app's modules
        from pricewatch.tracking import dispatch

        dispatchers.register(dispatch.dispatch_due)
