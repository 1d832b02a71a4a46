from django.apps import AppConfig


class VouchersConfig(AppConfig):
    """Voucher campaigns: first-loss and liquidation coverage for copy traders, experience vouchers,
    loss-coverage vouchers on manual futures trading, and the operators' campaign desk."""

    name = "vouchers"
    verbose_name = "Voucher campaigns"

    def ready(self) -> None:
        from accounts import hooks
        from vouchers import consumers, tasks  # noqa: F401 - registers the outbox consumer and the Celery tasks
        from vouchers.selectors import campaign_budget_problems

        hooks.register_audit_check(
            "campaign budgets add up (funded = available + reserved + paid out)", campaign_budget_problems
        )
