from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "pricewatch.alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Imported once the models are loaded: alerts evaluate every recorded price change and
        # deliver what is due on the dispatcher's tick.
        from pricewatch.alerts import dispatch  # noqa: PLC0415
        from pricewatch.core import dispatchers  # noqa: PLC0415
        from pricewatch.pricing import events  # noqa: PLC0415

        events.subscribe(dispatch.changes_recorded)
        dispatchers.register(dispatch.dispatch_due)
