"""Set-based UPDATEs for batch processing: many rows, each with its own values, in one
statement (``UPDATE ... FROM (...) AS v``: the rows from ``unnest`` of one array per
column on PostgreSQL, from ``VALUES`` on SQLite 3.33+); one UPDATE per row on other
databases."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.db import connection, models

#: Rows per statement: keeps the parameters under SQLite's and psycopg's limits.
CHUNK_ROWS = 500

#: Per column, how the stored value combines with the new one (``None``: replaced).
GREATEST = "greatest"  # the later of the two timestamps (a NULL stored value takes the new one)
ADD = "add"  # a counter incremented by the new value


def supports_update_from() -> bool:
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 33)


def update_rows(
    model: type[models.Model],
    rows: Mapping[Any, Mapping[str, Any]],
    fields: Sequence[str],
    *,
    combine: Mapping[str, str] | None = None,
) -> int:
    """Set ``fields`` of each row ``pk -> {field: value}`` (every row gives every field).
    ``combine`` names fields merged with the stored value (:data:`GREATEST`, :data:`ADD`).
    Rows are written in primary key order, so concurrent batches lock them in one order."""
    if not rows:
        return 0
    combine = combine or {}
    ordered = sorted(rows.items())
    if not supports_update_from():
        return _update_one_by_one(model, ordered, fields, combine)
    updated = 0
    for start in range(0, len(ordered), CHUNK_ROWS):
        updated += _update_chunk(model, ordered[start : start + CHUNK_ROWS], fields, combine)
    return updated


def _update_chunk(
    model: type[models.Model],
    rows: list[tuple[Any, Mapping[str, Any]]],
    fields: Sequence[str],
    combine: Mapping[str, str],
) -> int:
    meta, quote = model._meta, connection.ops.quote_name
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    postgres = connection.vendor == "postgresql"

    table = quote(meta.db_table)
    names = ["pk", *(f"v_{field.column}" for field in columns)]
    params: list[Any]
    if postgres:
        # One array per column, unnested into rows: the statement's text is the same for any
        # number of rows, so psycopg neither rescans a long text for thousands of placeholders
        # nor adapts each value as a parameter of its own.
        params = [array_literal([pk.get_db_prep_value(key, connection) for key, _ in rows])]
        for field in columns:
            prepare = _prepare_for_postgresql(field)
            params.append(array_literal([prepare(values[field.name]) for _, values in rows]))
        arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in (pk, *columns))
        source = f"SELECT * FROM unnest({arrays}) AS u ({', '.join(names)})"
    else:
        params = []
        for key, values in rows:
            params.append(pk.get_db_prep_value(key, connection))
            params.extend(field.get_db_prep_save(values[field.name], connection) for field in columns)
        row_sql = "(" + ", ".join(["%s"] * (1 + len(columns))) + ")"
        named = ", ".join(f"column{index} AS {name}" for index, name in enumerate(names, 1))
        source = f"SELECT {named} FROM (VALUES {', '.join([row_sql] * len(rows))})"
    assignments = []
    for field, name in zip(columns, names[1:], strict=True):
        column = f"{table}.{quote(field.column)}"
        how = combine.get(field.name)
        if how == GREATEST:
            bigger = "GREATEST" if postgres else "MAX"
            value = f"{bigger}(COALESCE({column}, v.{name}), v.{name})"
        elif how == ADD:
            value = f"{column} + v.{name}"
        else:
            value = f"v.{name}"
        assignments.append(f"{quote(field.column)} = {value}")
    # UPDATE first (not WITH ... UPDATE): SQLite's driver counts the rows only then.
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} FROM ({source}) AS v "
        f"WHERE {table}.{quote(pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def array_literal(values: list[Any]) -> str | list[Any]:
    """PostgreSQL's text form of the one-dimensional array ``values`` (``{1,NULL,"a\\"b"}``),
    for a parameter cast to an array type, when every value is None, a bool, an int, a str or
    an aware datetime; else ``values`` as they are, for psycopg to adapt. psycopg writes an
    array value by value, escaping each with a regular expression: for the arrays of a batch
    of statuses that was a tenth of the processor's CPU; the literal is one string to quote."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif value is True or value is False:
            parts.append("t" if value else "f")
        elif isinstance(value, int):
            parts.append(int.__repr__(value))  # an IntEnum's digits, not its name
        elif isinstance(value, str):
            # Inside double quotes only the quote and the backslash are special.
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif isinstance(value, datetime) and value.tzinfo is not None:
            parts.append('"' + value.isoformat() + '"')
        else:
            return values
    return "{" + ",".join(parts) + "}"


def _prepare_for_postgresql(field: models.Field) -> Callable[[Any], Any]:
    """``field.get_db_prep_save`` for PostgreSQL, short-cut for aware datetimes, which it
    returns unchanged there (its checks cost 6 us a value, and statuses bring thousands)."""
    if type(field) is models.DateTimeField:

        def prepare(value: Any) -> Any:
            if isinstance(value, datetime) and value.tzinfo is not None:
                return value
            return field.get_db_prep_save(value, connection)

        return prepare
    return partial(field.get_db_prep_save, connection=connection)


def _update_one_by_one(
    model: type[models.Model],
    rows: list[tuple[Any, Mapping[str, Any]]],
    fields: Sequence[str],
    combine: Mapping[str, str],
) -> int:
    from django.db.models import F
    from django.db.models.functions import Coalesce, Greatest

    updated = 0
    for key, values in rows:
        changes: dict[str, Any] = {}
        for name in fields:
            how, value = combine.get(name), values[name]
            if how == GREATEST:
                changes[name] = Greatest(Coalesce(name, value), value)
            elif how == ADD:
                changes[name] = F(name) + value
            else:
                changes[name] = value
        updated += model._default_manager.filter(pk=key).update(**changes)
    return updated
