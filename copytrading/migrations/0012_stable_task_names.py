"""Beat rows name their Celery task; the tasks now declare stable names (``name=``) that no
module move can orphan. Rename the rows that still hold the old module paths."""

from django.db import migrations
from django.utils import timezone

RENAMED = {
    "accounts.tasks.ledger_audit_run": "accounts.ledger_audit",
    "copytrading.tasks.funding_settle": "futures.funding_settle",
    "copytrading.tasks.outbox_deliver": "futures.outbox_deliver",
    "copytrading.tasks.risk_sweep_run": "futures.risk_sweep",
    "copytrading.tasks.profit_share_daily": "copytrading.profit_share_daily",
    "copytrading.tasks.statistics_daily": "copytrading.statistics_daily",
    "copytrading.tasks.copy_fanout_reconcile_run": "copytrading.copy_fanout_reconcile",
    "copytrading.tasks.copy_fanout_run": "copytrading.copy_fanout",
    "copytrading.tasks.copy_fanout_batch_run": "copytrading.copy_fanout_batch",
}


def rename(apps, schema_editor, names=RENAMED):
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    changed = sum(periodic_task.objects.filter(task=old).update(task=new) for old, new in names.items())
    if changed:
        # A bulk update does not tell a running beat its schedule changed; this row does (beat reloads).
        apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
            ident=1, defaults={"last_update": timezone.now()}
        )


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, names={new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("copytrading", "0011_venue_to_futures"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(rename, rename_back)]
