"""Row helpers for the intake's hot path."""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache
from typing import Any, TypeVar

from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Q

M = TypeVar("M", bound=models.Model)


def insert_or_get(model: type[M], defaults: dict[str, Any], **lookup: Any) -> tuple[M, bool]:
    """``get_or_create`` for rows that are almost always new: the INSERT is tried
    first (no SELECT before it), and only a unique conflict looks the row up.
    Returns ``(row, created)``; another integrity error is raised as it is."""
    try:
        with transaction.atomic():
            return model._default_manager.create(**lookup, **defaults), True
    except IntegrityError:
        try:
            return model._default_manager.get(**lookup), False
        except model.DoesNotExist:
            pass
        raise


def insert_or_get_now(model: type[M], defaults: dict[str, Any], **lookup: Any) -> tuple[M, bool]:
    """:func:`insert_or_get` in one statement where it can be: on PostgreSQL outside a
    transaction, ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` commits by itself (no
    BEGIN, SAVEPOINT and COMMIT round trips); a conflict then looks the row up. Used by
    the webhook intake, whose one INSERT is all a request writes."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql" or connection.in_atomic_block or len(lookup) != 1:
        return insert_or_get(model, defaults, **lookup)
    row = model(**lookup, **defaults)
    (unique,) = lookup
    fields, sql = _insert_statement(model, alias, unique)
    values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        returned = cursor.fetchone()
    if returned is None:
        return model._default_manager.using(alias).get(**lookup), False
    row.pk = returned[0]
    row._state.adding, row._state.db = False, alias
    return row, True


@lru_cache(maxsize=64)
def _insert_statement(model: type[models.Model], alias: str, unique: str) -> tuple[list[models.Field], str]:
    """The fields and SQL of :func:`insert_or_get_now`'s INSERT, built once per model."""
    meta, quote = model._meta, connections[alias].ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT ({quote(meta.get_field(unique).column)}) "
        f"DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    return fields, sql


def rows_matching_any(model: type[M], **columns: Collection[str]) -> list[M]:
    """``model.objects.filter(Q(a__in=...) | Q(b__in=...)).order_by("pk")``, on PostgreSQL
    without building the query each time: its SQL is made once per model and columns
    (``= ANY(%s)`` takes any number of values), which costs a fifth of Django compiling it
    anew. Rows become instances as the ORM makes them (field converters included)."""
    alias = router.db_for_read(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        matching = Q()
        for name, values in columns.items():
            matching |= Q(**{f"{name}__in": list(values)})
        return list(model._default_manager.using(alias).filter(matching).order_by("pk"))
    names, converters, sql = _select_statement(model, alias, tuple(columns))
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(values) for values in columns.values()])
        rows = cursor.fetchall()
    found = []
    for row in rows:
        values = list(row)
        for index, column, field_converters in converters:
            for convert in field_converters:
                values[index] = convert(values[index], column, connection)
        found.append(model.from_db(alias, names, values))
    return found


@lru_cache(maxsize=64)
def _select_statement(
    model: type[models.Model], alias: str, columns: tuple[str, ...]
) -> tuple[list[str], list[tuple[int, Any, list]], str]:
    """The attribute names, converters and SQL of :func:`rows_matching_any`, built once."""
    connection = connections[alias]
    meta, quote = model._meta, connection.ops.quote_name
    fields = list(meta.concrete_fields)
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if found:
            converters.append((index, column, found))
    where = " OR ".join(f"{quote(meta.get_field(name).column)} = ANY(%s)" for name in columns)
    sql = (
        f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(meta.db_table)} "
        f"WHERE {where} ORDER BY {quote(meta.pk.column)}"
    )
    return [field.attname for field in fields], converters, sql
