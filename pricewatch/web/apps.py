from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "pricewatch.web"
    label = "web"
    verbose_name = "Web pages"
