"""Operator permission groups (see accounts/roles.py): campaign operators, risk operators, finance."""

from django.db import migrations

from accounts.roles import OPERATOR_GROUPS, operator_groups_sync


def create_groups(apps, schema_editor):
    operator_groups_sync(apps)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=OPERATOR_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_ledger_database_guards"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
