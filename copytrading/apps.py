from django.apps import AppConfig


class CopytradingConfig(AppConfig):
    name = "copytrading"
    verbose_name = "Futures and copy trading"
