"""Operator roles: permission groups, one per job, each with what the job needs and nothing else.

Created by migration 0003 and kept in step after every migrate or flush (a
``post_migrate`` handler), so permissions added by later apps reach the groups.
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions

OPERATOR_GROUPS: dict[str, list[str]] = {
    "Finance": [
        "accounts.credit_deposit",
        "accounts.review_withdrawal",
        "accounts.view_withdrawal",
        "accounts.view_ledgeraccount",
        "accounts.view_journalentry",
        "accounts.view_posting",
        "accounts.view_hold",
        "accounts.view_ledgerauditrun",
        "accounts.view_user",
        # Run a periodic job now or for a missed period, money-moving ones included (accounts.jobs).
        "accounts.run_job",
        "accounts.run_money_job",
        "accounts.view_jobrun",
        # Fund voucher campaigns from the marketing account (R-VC-09).
        "vouchers.view_campaign",
        "vouchers.fund_campaign",
        "vouchers.view_campaignfunding",
        # Loss-coverage compensations credited to spot from the campaigns' reserved accounts (R-LC-05).
        "vouchers.view_compensation",
    ],
    "Risk operators": [
        "accounts.view_ledgeraccount",
        "accounts.view_user",
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.view_crontabschedule",
        "django_celery_beat.add_crontabschedule",
        # Run a periodic job that moves no money now or for a missed period (accounts.jobs).
        "accounts.run_job",
        "accounts.view_jobrun",
        # Markets and the operator price feed (R-MG-01, R-MG-08); positions and orders to investigate.
        "futures.set_mark_price",
        "futures.view_market",
        "futures.add_market",
        "futures.change_market",
        "futures.view_marketchange",
        "futures.view_markprice",
        "futures.view_position",
        "futures.view_positionclose",
        "futures.view_order",
        # Lead traders: approve, suspend, reinstate; followings and copy decisions to investigate;
        # the platform's copy settings (R-CT-01, R-CT-14, R-CT-22).
        "copytrading.review_lead_trader",
        "copytrading.view_leadtrader",
        "copytrading.view_following",
        "copytrading.view_copydecision",
        "copytrading.view_copysettings",
        "copytrading.change_copysettings",
    ],
    "Campaign operators": [
        "accounts.view_user",
        # Run voucher campaigns: create, edit, publish, pause, end; see claims and changes (R-VC-01, R-OP-01).
        "vouchers.view_campaign",
        "vouchers.add_campaign",
        "vouchers.change_campaign",
        "vouchers.view_campaignchange",
        "vouchers.view_campaignfunding",
        "vouchers.view_voucher",
        "vouchers.view_payout",
        "vouchers.review_payout",
        "vouchers.ban_voucher_abuse",
        "vouchers.view_abuseban",
        # Loss-coverage vouchers granted from the campaign page, and the compensations they pay (R-LC-01 … R-LC-06).
        "vouchers.view_losscoveragevoucher",
        "vouchers.view_compensation",
        # Where users registered and logged in from: voucher-abuse review (R-VC-09, R-LC-06).
        "accounts.view_accessrecord",
    ],
}


def operator_groups_sync(apps) -> None:
    """Create the operator groups and grant their permissions (never removes an operator's additions).

    ``apps`` is a migration's historical registry or ``django.apps.apps``.
    """

    for app_config in apps.get_app_configs():
        # Permissions are normally created after all migrations; make them exist now.
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = previous or True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = previous

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, perms in OPERATOR_GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            if not _has_app(apps, app_label):
                # An app migrated later than this migration: the post_migrate sync grants it.
                continue
            permission = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is None:
                # A model a later migration of the app adds (e.g. accounts.JobRun for migration 0003): the
                # post_migrate sync grants it; tests check every listed permission exists after migrate.
                continue
            wanted.append(permission)
        group.permissions.add(*wanted)


def _has_app(apps, app_label: str) -> bool:
    try:
        apps.get_app_config(app_label)
    except LookupError:
        return False
    return True
