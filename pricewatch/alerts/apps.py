from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "pricewatch.alerts"
    label = "alerts"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Imported here: AppConfig.ready: the app's modules need the models loaded.
        from pricewatch.alerts import dispatch  # noqa: PLC0415
        from pricewatch.core import dispatchers  # noqa: PLC0415
        from pricewatch.pricing import events  # noqa: PLC0415

        events.subscribe(dispatch.changes_recorded)
        dispatchers.register(dispatch.dispatch_due)
