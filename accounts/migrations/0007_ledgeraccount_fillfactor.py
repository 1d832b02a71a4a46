"""Leave room on the ledger accounts' pages for their balance updates (PostgreSQL).

Every movement rewrites its accounts' cached balances. With full pages each
rewrite moves the row to another page and adds an entry to every index of the
table; with a fifth of each page kept free, the new version stays on its page
and the indexes are untouched (a heap-only update), which is most of the cost
of a bulk balance update. Rows written before this change keep their pages
until the table is rewritten (VACUUM FULL or pg_repack).
"""

from django.db import migrations


def fillfactor(percent: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE accounts_ledgeraccount SET (fillfactor = {percent})")

    return apply


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_profit_loans")]

    operations = [migrations.RunPython(fillfactor(80), fillfactor(100))]
