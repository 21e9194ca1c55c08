"""Row helpers for the intake's hot path."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import IntegrityError, connections, models, router, transaction

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
    meta, quote = model._meta, connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    (unique,) = lookup
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT ({quote(meta.get_field(unique).column)}) "
        f"DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        returned = cursor.fetchone()
    if returned is None:
        return model._default_manager.using(alias).get(**lookup), False
    row.pk = returned[0]
    row._state.adding, row._state.db = False, alias
    return row, True
