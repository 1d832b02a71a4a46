"""The venue's content types (and with them their permissions, group grants and admin history) move
from the ``copytrading`` label to ``futures``, the label their models now have."""

from django.db import migrations

MODELS = (
    "market",
    "marketchange",
    "markprice",
    "marketsetting",
    "order",
    "position",
    "positionclose",
    "fundingrun",
    "risksweep",
    "outboxevent",
    "outboxdelivery",
)


def relabel(apps, schema_editor, old="copytrading", new="futures"):
    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    for model in MODELS:
        moving = content_type.objects.filter(app_label=old, model=model).first()
        if moving is None:
            continue  # a fresh database: post_migrate creates them under the new label
        existing = content_type.objects.filter(app_label=new, model=model).first()
        if existing is not None:
            # Created under the new label before this ran (a post_migrate in between): the old row carries
            # the grants and history, so it wins; the new one's permissions are duplicates of its own.
            permission.objects.filter(content_type=existing).delete()
            existing.delete()
        moving.app_label = new
        moving.save(update_fields=["app_label"])


def unlabel(apps, schema_editor):
    relabel(apps, schema_editor, old="futures", new="copytrading")


class Migration(migrations.Migration):
    dependencies = [
        ("futures", "0001_initial"),
        ("copytrading", "0011_venue_to_futures"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(relabel, unlabel)]
