"""Operator permission groups: each job gets what it needs and nothing else.

Later apps extend these groups in their own migrations (campaign operators get
the voucher permissions with the vouchers app, risk operators the market ones).
"""

from django.db import migrations

GROUPS = {
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
    ],
    "Risk operators": [
        "accounts.view_ledgeraccount",
        "accounts.view_user",
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.view_crontabschedule",
        "django_celery_beat.add_crontabschedule",
    ],
    "Campaign operators": [
        "accounts.view_user",
    ],
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make them exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_ledger_database_guards"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
