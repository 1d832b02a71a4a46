"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

# PostgreSQL takes at most 65,535 bind parameters in one statement.
_MAX_PARAMS = 60_000


def bulk_update_rows(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of many rows in one ``UPDATE … FROM (VALUES …)`` statement on PostgreSQL.

    Django's ``bulk_update`` builds one ``CASE WHEN`` per field with a branch per
    row, whose planning cost grows with the square of the rows; a join against
    a VALUES list stays linear. Other databases use ``bulk_update``.
    """
    if not objs:
        return
    if connection.vendor != "postgresql" or len(objs) == 1:
        model.objects.bulk_update(objs, fields)
        return
    meta = model._meta
    pk = meta.pk
    cols = [meta.get_field(name) for name in fields]
    casts = [pk.db_type(connection)] + [c.db_type(connection) for c in cols]
    row_sql = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    names = ", ".join(connection.ops.quote_name(c.column) for c in cols)
    assignments = ", ".join(
        f"{connection.ops.quote_name(c.column)} = v.{connection.ops.quote_name(c.column)}" for c in cols
    )
    table = connection.ops.quote_name(meta.db_table)
    pk_col = connection.ops.quote_name(pk.column)
    per_statement = max(1, _MAX_PARAMS // len(casts))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start : start + per_statement]
            params: list = []
            for obj in chunk:
                params.append(pk.get_db_prep_value(obj.pk, connection))
                params.extend(c.get_db_prep_save(getattr(obj, c.attname), connection) for c in cols)
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} FROM (VALUES {', '.join([row_sql] * len(chunk))}) "
                f"AS v({pk_col}, {names}) WHERE t.{pk_col} = v.{pk_col}",
                params,
            )
