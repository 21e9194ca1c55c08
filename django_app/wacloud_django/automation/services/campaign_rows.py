"""Writing rows fast: one ``executemany`` per chunk for the audience, and per batch for the
``Message`` rows and the recipients' answers. ``bulk_create``/``bulk_update`` prepare every
value of every field through the ORM (and ``bulk_update`` builds a CASE per field), which cost more than the
sends themselves; here the values every row shares are prepared once per batch.

Columns come from the model's own fields and defaults, so a field added to ``Message``
later is written with its default, as the ORM would. Neither sends signals (bulk writes never do)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models
from django.db.models import Model
from django.db.models.constants import OnConflict

from ...models import CampaignRecipient, Message


def insert_rows(
    model: type[Model],
    shared: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    now: datetime,
    *,
    ignore_conflicts: bool = False,
) -> None:
    """Insert one ``model`` row per item of ``rows`` (attribute name -> value), with ``shared``
    values and the model's defaults for the other fields. ``ignore_conflicts``: a row that
    would break a unique constraint is left out (as ``bulk_create(ignore_conflicts=True)``)."""
    if not rows:
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    varying = set(rows[0])
    constant: dict[str, Any] = {}
    for field in fields:
        if field.attname in varying:
            continue
        if field.attname in shared:
            value = shared[field.attname]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        constant[field.attname] = field.get_db_prep_save(value, connection)
    quote = connection.ops.quote_name
    conflict = OnConflict.IGNORE if ignore_conflicts else None
    statement = connection.ops.insert_statement(on_conflict=conflict)
    suffix = connection.ops.on_conflict_suffix_sql(fields, conflict, None, None) if conflict else ""
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Plain foreign keys and char columns take ints and strings as they are; anything else (JSON,
    # encrypted text, dates) is prepared by its field, as the ORM would.
    prepare = {field.attname: type(field) not in (models.ForeignKey, models.CharField) for field in fields}
    params = [
        tuple(
            constant[field.attname]
            if field.attname not in varying
            else field.get_db_prep_save(row[field.attname], connection)
            if prepare[field.attname]
            else row[field.attname]
            for field in fields
        )
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"{statement} {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders}) {suffix}", params
        )


def insert_messages(
    shared: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], now: datetime
) -> dict[str, int]:
    """One ``Message`` per item of ``rows`` (``wamid``, ``contact_id``, ...); returns {wamid: pk}."""
    insert_rows(Message, shared, rows, now)
    return message_ids([row["wamid"] for row in rows])


def message_ids(wamids: Sequence[str]) -> dict[str, int]:
    """{wamid: Message pk} of the stored ones among ``wamids``."""
    return dict(select_in(f"SELECT wamid, id FROM {table(Message)} WHERE wamid IN ({{}})", wamids))


def mark_sent(token: str, sent: Sequence[tuple[int, str, int | None]], now: datetime) -> None:
    """(recipient pk, wamid, message pk) of a claimed batch -> ``sent``."""
    quote = connection.ops.quote_name
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(CampaignRecipient._meta.db_table)} SET status = %s, wamid = %s, message_id = %s, "
            "sent_at = %s, updated_at = %s, claim_token = '', error_code = NULL, error = '' "
            "WHERE id = %s AND claim_token = %s",
            [
                (CampaignRecipient.Status.SENT, wamid, message_id, stamp, stamp, pk, token)
                for pk, wamid, message_id in sent
            ],
        )


def select_in(sql: str, values: Sequence[Any], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run ``sql``, whose one ``IN ({})`` takes ``values`` (in chunks every backend accepts),
    after ``params``. The ORM spends more on a 1,000-value ``__in`` than the query costs."""
    found: list[tuple[Any, ...]] = []
    values = list(values)
    with connection.cursor() as cursor:
        for start in range(0, len(values), 900):
            chunk = values[start : start + 900]
            cursor.execute(sql.format(", ".join(["%s"] * len(chunk))), [*params, *chunk])
            found.extend(cursor.fetchall())
    return found


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)
