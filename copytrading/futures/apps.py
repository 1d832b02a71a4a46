from django.apps import AppConfig


class FuturesConfig(AppConfig):
    """The futures venue: markets and prices, orders and fills, positions, margin, liquidation, funding, the outbox.

    It knows nothing of copying: the apps built on it register on ``copytrading.futures.hooks``
    and ``copytrading.futures.events``.
    """

    name = "copytrading.futures"
    label = "futures"
    verbose_name = "Futures venue"

    def ready(self) -> None:
        from accounts import hooks
        from copytrading.futures import tasks  # noqa: F401 - registers the venue's Celery tasks by name
        from copytrading.futures.services.wallet import wallet_changed, wallet_withdrawable

        hooks.register_withdrawable(wallet_withdrawable)
        hooks.register_balance_changed(wallet_changed)
