from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "pricewatch.web"
    verbose_name = "Web pages"
