from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "pricewatch.tracking"
    label = "tracking"
    verbose_name = "Price tracking"

    def ready(self) -> None:
        # Imported here: AppConfig.ready: the app's modules need the models loaded.
        from pricewatch.core import dispatchers  # noqa: PLC0415
        from pricewatch.tracking import dispatch  # noqa: PLC0415

        dispatchers.register(dispatch.dispatch_due)
