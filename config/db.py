"""Database helpers shared by the apps: bulk writes that stay linear in the rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from operator import attrgetter

from django.db import DEFAULT_DB_ALIAS, connections, models


def bulk_update_rows(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of many rows in one ``UPDATE … FROM unnest(arrays)`` statement on PostgreSQL.

    Django's ``bulk_update`` builds one ``CASE WHEN`` per field with a branch per
    row, whose planning cost grows with the square of the rows; a join against
    one array per column stays linear and sends a handful of parameters.
    Other databases use ``bulk_update``.
    """
    if not objs:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql" or len(objs) == 1:
        model.objects.bulk_update(objs, fields)
        return
    meta = model._meta
    pk = meta.pk
    cols = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    arrays = ", ".join(f"%s::{c.db_type(connection)}[]" for c in [pk, *cols])
    names = ", ".join(quote(c.column) for c in [pk, *cols])
    assignments = ", ".join(f"{quote(c.column)} = v.{quote(c.column)}" for c in cols)
    getters = [_value_getter(c) for c in cols]
    params = [[obj.pk for obj in objs], *([get(obj) for obj in objs] for get in getters)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {assignments} FROM unnest({arrays}) AS v({names}) "
            f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}",
            params,
        )


def copy_insert(model: type[models.Model], objs: Sequence[models.Model], *, assign_ids: bool = False) -> None:
    """Insert many new rows with PostgreSQL ``COPY``; other databases use ``bulk_create``.

    ``bulk_create`` spends most of its time building one placeholder per value;
    COPY streams the rows. With ``assign_ids`` the primary keys are drawn from
    the table's sequence first and set on the objects, as ``bulk_create`` would.
    Fields are prepared as Django saves them (``pre_save`` fills ``auto_now_add``).
    """
    if not objs:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key or assign_ids]
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        if assign_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(objs)],
            )
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        getters = [_value_getter(f, adding=True) for f in fields]
        # Raw COPY bypasses Django's cursor wrapper: map psycopg errors to Django's (IntegrityError, …).
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([get(obj) for get in getters])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _value_getter(field: models.Field, *, adding: bool = False) -> Callable[[models.Model], object]:
    """How to read ``field`` of an object as psycopg can send it, without Django's per-value preparation.

    Decimals, numbers, strings, booleans, datetimes and foreign-key ids go as they
    are (psycopg adapts them); JSON is wrapped; ``auto_now`` fields get stamped.
    """
    from psycopg.types.json import Jsonb

    if getattr(field, "auto_now", False) or (adding and getattr(field, "auto_now_add", False)):
        return lambda obj: field.pre_save(obj, True)
    get = attrgetter(field.attname)
    if isinstance(field, models.JSONField):
        return lambda obj: None if (v := get(obj)) is None else Jsonb(v)
    if field.choices:
        # psycopg would send an Enum member (TextChoices) by its name; the column holds its value.
        return lambda obj: v.value if isinstance(v := get(obj), Enum) else v
    return get


def copy_rows(model: type[models.Model], columns: Sequence[str], rows) -> None:
    """COPY plain tuples into ``model``'s table (columns by attname): no model instance per row.

    For the hottest bulk writers; values must already be what the columns hold
    (choices by value, JSON wrapped). Other databases get ``bulk_create``.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    rows = list(rows)
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(model(**dict(zip(columns, row, strict=True))) for row in rows)
        return
    meta = model._meta
    names = ", ".join(connection.ops.quote_name(_field_by_attname(meta, c).column) for c in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {connection.ops.quote_name(meta.db_table)} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _field_by_attname(meta, attname: str) -> models.Field:
    """The field whose column ``attname`` names: a plain field, or a foreign key by its ``_id`` name."""
    for field in meta.concrete_fields:
        if field.attname == attname:
            return field
    raise ValueError(f"{meta.label} has no column {attname!r}")
