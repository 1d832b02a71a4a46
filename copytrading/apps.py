from django.apps import AppConfig


class CopytradingConfig(AppConfig):
    """The copy engine: lead traders, followings, the fan-out, the guardian, profit share, loans, statistics.

    It uses the futures venue (``copytrading.futures``) through its services, and
    listens to it: a lead's fill, a sweep of guarded copies, a closed position.
    """

    name = "copytrading"
    verbose_name = "Copy trading"

    def ready(self) -> None:
        from copytrading import consumers, listeners, tasks  # noqa: F401 - registers consumers and Celery tasks

        listeners.register()
