from django.apps import AppConfig
from django.apps import apps as global_apps
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate

from accounts.roles import operator_groups_sync


def _sync_operator_groups(sender, apps=None, **kwargs):

    operator_groups_sync(apps or global_apps)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and ledger"

    def ready(self) -> None:
        from accounts import tasks  # noqa: F401 - registers the app's Celery tasks by name
        from accounts.receivers import record_web_login
        from config import db  # noqa: F401 - registers the ``__any`` lookup the bulk services use

        # After every migrate and flush (tests that truncate tables), so the groups always exist.
        post_migrate.connect(_sync_operator_groups, sender=self, dispatch_uid="accounts.operator_groups")
        # Web and admin logins; the API's token login records itself (it never fires this signal).
        user_logged_in.connect(record_web_login, dispatch_uid="accounts.record_web_login")
