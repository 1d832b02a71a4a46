"""The futures venue's models leave this app for ``futures`` (``copytrading.futures``).

State only: the tables keep their names and rows. The copy engine's foreign
keys to orders and positions now point at the venue's models.
"""

import django.db.models.deletion
from django.db import migrations, models

# Dependents first, so no model left in this app's state points at one removed before it.
VENUE_MODELS = (
    "OutboxDelivery",
    "OutboxEvent",
    "PositionClose",
    "RiskSweep",
    "FundingRun",
    "MarketSetting",
    "MarketChange",
    "Order",
    "Position",
    "MarkPrice",
    "Market",
)


class Migration(migrations.Migration):
    dependencies = [
        ("copytrading", "0010_market_changes"),
        ("futures", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="copydecision",
                    name="lead_order",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="copy_decisions", to="futures.order"
                    ),
                ),
                migrations.AlterField(
                    model_name="copydecision",
                    name="position",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="futures.position",
                    ),
                ),
                *[migrations.DeleteModel(name=name) for name in VENUE_MODELS],
            ],
            database_operations=[],
        ),
    ]
