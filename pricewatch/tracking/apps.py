from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "pricewatch.tracking"
    verbose_name = "Price tracking"

    def ready(self) -> None:
        # Imported once the models are loaded: checks are due on the dispatcher's tick.
        from pricewatch.core import dispatchers  # noqa: PLC0415
        from pricewatch.tracking import dispatch  # noqa: PLC0415

        dispatchers.register(dispatch.dispatch_due)
