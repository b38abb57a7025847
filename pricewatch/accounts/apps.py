from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "pricewatch.accounts"
    verbose_name = "Accounts"
