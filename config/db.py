"""Database helpers shared by the apps: bulk reads and writes that stay linear in the rows.

Importing this module registers the ``__any`` lookup on every field
(``pk__any=ids``, ``account_id__any={…}``: ``= ANY(%s)`` with one array
parameter, see ``AnyOf``); the accounts app imports it in ``ready()``, so the
lookup exists in every process before any query runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from operator import attrgetter

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Lookup
from django.db.models.base import ModelState
from psycopg.types.json import Jsonb


class AnyOf(Lookup):
    """``field__any=[…]``: ``field = ANY(%s)`` with the values as one array parameter on PostgreSQL.

    ``__in`` sends one placeholder per value, which Django compiles and psycopg
    rewrites one by one; for the thousand ids of a bulk batch that costs more
    than the query. PostgreSQL plans both the same way. Other databases get ``IN``.
    Hot callers pass a set: Django visits every element of a list or tuple first.
    """

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::{self.lhs.output_field.db_type(connection)}[])", [*params, array_param(values)]
        if not values:
            return "1 = 0", params
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*params, *values]


def array_param(values: list) -> str | list:
    """A list as one PostgreSQL array literal (``'{1,2,"a b",NULL}'``), built in one pass.

    psycopg adapts a list element by element (and, binding on the client, quotes
    each); for the thousands of numbers, strings and timestamps of a bulk
    statement one ``join`` is much cheaper. Lists holding anything else (JSON)
    are returned as they are, for psycopg to adapt.
    """
    parts = []
    for v in values:
        if isinstance(v, Enum):  # choices are stored by value (psycopg would send the name)
            v = v.value
        if v is None:
            parts.append("NULL")
        elif isinstance(v, bool):
            parts.append("t" if v else "f")
        elif isinstance(v, int | Decimal):
            parts.append(str(v))
        elif isinstance(v, str | datetime):
            parts.append('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            return values
    return "{" + ",".join(parts) + "}"


models.Field.register_lookup(AnyOf)
models.ForeignObject.register_lookup(AnyOf)  # foreign keys keep their own lookups, not Field's


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
    getters = [_value_getter(c) or attrgetter(c.attname) for c in cols]
    params = [array_param([obj.pk for obj in objs]), *(array_param([get(obj) for obj in objs]) for get in getters)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {assignments} FROM unnest({arrays}) AS v({names}) "
            f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}",
            params,
        )


def rows_to_instances(
    model: type[models.Model], attnames: Sequence[str], rows: Iterable[Sequence], *, using: str = DEFAULT_DB_ALIAS
) -> list:
    """Model instances from rows of ``values_list(*attnames)``, as ``only(*attnames)`` would load them.

    ``Model.from_db`` runs ``__init__`` (every field's descriptor and the init
    signals) for each row; a bulk batch of thousands of rows spends more on that
    than on its queries. This fills the instance's attributes directly, so use
    it only for models without fields that hook into ``post_init`` (image or
    generic foreign-key fields). Columns not listed are deferred, as with ``only``.
    """
    out = []
    new = object.__new__
    for row in rows:
        obj = new(model)
        obj.__dict__.update(zip(attnames, row, strict=True))
        state = obj._state = ModelState()
        state.adding, state.db = False, using
        out.append(obj)
    return out


_TEMPLATES: dict[type, tuple[dict, tuple, dict]] = {}


def _template(model: type[models.Model]) -> tuple[dict, tuple, dict]:
    if model not in _TEMPLATES:
        constants, factories = {}, []
        for field in model._meta.concrete_fields:
            if field.has_default() and callable(field.default):
                factories.append((field.attname, field.default))
            constants[field.attname] = None if field.primary_key else field.get_default()
        relations = {f.name: f for f in model._meta.concrete_fields if f.is_relation}
        _TEMPLATES[model] = constants, tuple(factories), relations
    return _TEMPLATES[model]


def instance_new(model: type[models.Model], **values) -> models.Model:
    """``model(**values)`` for bulk writers that build thousands of new rows: defaults, then ``values``.

    Related objects may be passed by field name (their id is stored and the
    object cached, as ``__init__`` does) or ids by attname. Same caveat as
    ``rows_to_instances``: no ``pre_init``/``post_init`` signals.
    """
    constants, factories, relations = _template(model)
    obj = object.__new__(model)
    state = obj._state = ModelState()
    attrs = dict(constants)
    for attname, factory in factories:
        attrs[attname] = factory()
    for name, value in values.items():
        field = relations.get(name)
        if field is not None:
            attrs[field.attname] = None if value is None else value.pk
            state.fields_cache[name] = value
        elif name in constants:
            attrs[name] = value
        else:
            raise TypeError(f"{model.__name__} has no field {name!r}")
    obj.__dict__.update(attrs)
    return obj


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
        # Plain columns are read by one attrgetter (one C call per row); the few that need
        # preparing (choices, JSON, timestamps) by their own getters, after them.
        special = [f for f in fields if _value_getter(f, adding=True) is not None]
        plain = [f for f in fields if f not in special]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in [*plain, *special])
        read_plain = attrgetter(*[f.attname for f in plain]) if len(plain) > 1 else None
        getters = [_value_getter(f, adding=True) for f in special]
        # Raw COPY bypasses Django's cursor wrapper: map psycopg errors to Django's (IntegrityError, …).
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                head = read_plain(obj) if read_plain else tuple(getattr(obj, f.attname) for f in plain)
                copy.write_row((*head, *(get(obj) for get in getters)))
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _value_getter(field: models.Field, *, adding: bool = False) -> Callable[[models.Model], object] | None:
    """How to read ``field`` of an object as psycopg can send it, without Django's per-value preparation.

    None for decimals, numbers, strings, booleans, datetimes and foreign-key ids:
    they go as they are (psycopg adapts them). JSON is wrapped, choices sent by
    value and ``auto_now`` fields stamped.
    """

    if getattr(field, "auto_now", False) or (adding and getattr(field, "auto_now_add", False)):
        return lambda obj: field.pre_save(obj, True)
    get = attrgetter(field.attname)
    if isinstance(field, models.JSONField):
        return lambda obj: None if (v := get(obj)) is None else Jsonb(v)
    if field.choices:
        # psycopg would send an Enum member (TextChoices) by its name; the column holds its value.
        return lambda obj: v.value if isinstance(v := get(obj), Enum) else v
    return None


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

        model.objects.bulk_create(
            model(**{c: v.obj if isinstance(v, Jsonb) else v for c, v in zip(columns, row, strict=True)})
            for row in rows
        )
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
