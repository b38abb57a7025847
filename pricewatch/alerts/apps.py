from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "pricewatch.alerts"
    label = "alerts"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from pricewatch.alerts import dispatch  # models must be loaded before the app's modules
        from pricewatch.core import dispatchers
        from pricewatch.pricing import events

        events.subscribe(dispatch.changes_recorded)
        dispatchers.register(dispatch.dispatch_due)
