from django.apps import AppConfig


class CopytradingConfig(AppConfig):
    name = "copytrading"
    verbose_name = "Futures and copy trading"

    def ready(self) -> None:
        from accounts import hooks
        from copytrading import consumers  # noqa: F401 - registers the event consumers
        from copytrading.services.wallet import wallet_changed, wallet_withdrawable

        hooks.register_withdrawable(wallet_withdrawable)
        hooks.register_balance_changed(wallet_changed)
