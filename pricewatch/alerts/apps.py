from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "pricewatch.alerts"
    label = "alerts"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Alerts"
