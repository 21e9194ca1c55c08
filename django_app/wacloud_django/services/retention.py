"""Retention: what is past ``WACLOUD["RETENTION"]`` is redacted or deleted, in bounded
batches (each its own short transaction), so no table is ever locked for long.

- message content: redacted (text emptied, ``content``/``raw`` replaced by a marker);
  the row, its status and timestamps stay, so analytics keep counting it;
- media files: the stored file is removed, then its row;
- webhook events: processed ones deleted (failed and pending ones still need attention),
  with the pending statuses nothing ever matched;
- audit entries: deleted.

The beat task ``purge_expired_data`` and the ``whatsapp_purge`` command both call
:func:`purge_expired_data`. docs/privacy.md describes it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..conf import get_setting, setting_name
from ..exceptions import SettingError
from ..log_privacy import get_logger
from ..models import AuditEntry, MediaFile, Message, Organization, PendingStatus, WebhookEvent

logger = get_logger("wacloud.retention")

#: Rows per statement: small enough that each batch's transaction is short.
BATCH_SIZE = 1000

#: The keys of ``WACLOUD["RETENTION"]`` and, for the two that had their own setting
#: before, that setting (its value is the default).
RETENTION_KEYS: dict[str, str | None] = {
    "MESSAGE_CONTENT_DAYS": None,
    "MEDIA_DAYS": None,
    "WEBHOOK_EVENT_DAYS": "WEBHOOK_EVENT_RETENTION_DAYS",
    "AUDIT_DAYS": "AUDIT_RETENTION_DAYS",
}

#: What a purge reports, in the order it runs.
KINDS = ("message_content", "media_files", "webhook_events", "pending_statuses", "audit_entries")

Progress = Callable[[int, int], None]


def checked_days(where: str, value: Any) -> int | None:
    """``value`` if it is a positive number of days or ``None``, else ``ValueError`` naming ``where``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise ValueError(f"{where} must be a positive number of days or None, got {value!r}")
    return value


def check_organization_retention(retention: Any) -> dict[str, int | None]:
    """An organization's overrides (``Organization.retention``): a subset of the keys of
    ``WACLOUD["RETENTION"]``, each a positive number of days or ``None`` (kept for ever)."""
    if not isinstance(retention, dict):
        raise ValueError(f"retention must be an object of {list(RETENTION_KEYS)}, got {retention!r}")
    unknown = sorted(set(retention) - set(RETENTION_KEYS))
    if unknown:
        raise ValueError(f"retention has unknown keys {unknown}: use {list(RETENTION_KEYS)}")
    return {key: checked_days(f"retention[{key!r}]", value) for key, value in retention.items()}


def organization_overrides() -> dict[str, dict[int, int | None]]:
    """Per retention key, ``{organization id: days}`` for the organizations that set it.
    An organization whose overrides are invalid is logged and keeps the defaults: one bad
    row must not stop the purge for everyone."""
    overrides: dict[str, dict[int, int | None]] = {key: {} for key in RETENTION_KEYS}
    for organization_id, retention in Organization.objects.exclude(retention={}).values_list(
        "pk", "retention"
    ):
        try:
            checked = check_organization_retention(retention or {})
        except ValueError as error:
            logger.error("organization %s: %s; its data keeps the default retention", organization_id, error)
            continue
        for key, days in checked.items():
            overrides[key][organization_id] = days
    return overrides


def retention_days() -> dict[str, int | None]:
    """Days kept per data type (``None``: kept for ever) by default, checked; organizations
    may override them (:func:`organization_overrides`)."""
    configured = get_setting("RETENTION") or {}
    unknown = sorted(set(configured) - set(RETENTION_KEYS))
    if unknown:
        raise SettingError(
            "RETENTION", f"{setting_name('RETENTION')} has unknown keys {unknown}: use {list(RETENTION_KEYS)}"
        )
    days: dict[str, int | None] = {}
    for key, older_setting in RETENTION_KEYS.items():
        if key in configured:
            value = configured[key]
        else:
            value = get_setting(older_setting) if older_setting else None
        try:
            days[key] = checked_days(setting_name("RETENTION", key), value)
        except ValueError as error:
            raise SettingError("RETENTION", str(error)) from None
    return days


def redaction_marker(when: datetime | None = None) -> dict[str, Any]:
    """What replaces a redacted message's ``content`` and ``raw``."""
    return {"redacted": True, "at": (when or timezone.now()).isoformat()}


def outbox_q() -> Q:
    """Messages the outbox may still send (queued, or a failure a retry may resend):
    their content is what will be sent, so retention leaves it alone until then."""
    return Q(status=Message.Status.QUEUED) | Q(
        status=Message.Status.FAILED,
        failure_kind=Message.SendFailure.RETRIABLE,
        wamid__isnull=True,
    )


# -- what is expired ----------------------------------------------------------------------------


def expiry_q(
    now: datetime,
    default: int | None,
    overrides: dict[int, int | None],
    time_field: str,
    organization_path: str,
) -> Q | None:
    """Rows whose ``time_field`` is past their retention: ``default`` days for rows outside
    the organizations in ``overrides``, each override's days for its own rows.
    ``None``: nothing of this kind expires."""
    parts = []
    if default is not None:
        part = Q(**{f"{time_field}__lt": now - timedelta(days=default)})
        if overrides:
            part &= ~Q(**{f"{organization_path}__in": list(overrides)})
        parts.append(part)
    for organization_id, days in overrides.items():
        if days is not None:
            parts.append(
                Q(**{organization_path: organization_id, f"{time_field}__lt": now - timedelta(days=days)})
            )
    return reduce(or_, parts) if parts else None


def expired_messages(expired: Q) -> QuerySet[Message]:
    """Messages matching ``expired`` whose content is still there."""
    return Message.objects.filter(expired).exclude(outbox_q()).exclude(content__has_key="redacted")


def expired_media(expired: Q) -> QuerySet[MediaFile]:
    # A file an outbox message still has to upload stays until it is sent.
    return MediaFile.objects.filter(expired).exclude(
        message__in=Message.objects.filter(outbox_q()).values("pk")
    )


def expired_webhook_events(expired: Q) -> QuerySet[WebhookEvent]:
    # As cleanup_old_webhook_events: failed and pending events still need attention.
    return WebhookEvent.objects.filter(expired, status=WebhookEvent.Status.PROCESSED)


def _expired(now: datetime) -> dict[str, QuerySet | None]:
    # Read once per purge: the settings checked, the organizations' overrides in one query.
    days, overrides = retention_days(), organization_overrides()

    def expired(key: str, time_field: str, organization_path: str = "account__organization") -> Q | None:
        return expiry_q(now, days[key], overrides[key], time_field, organization_path)

    messages = expired("MESSAGE_CONTENT_DAYS", "timestamp")
    media = expired("MEDIA_DAYS", "created_at")
    webhooks = expired("WEBHOOK_EVENT_DAYS", "received_at")
    pending = expired("WEBHOOK_EVENT_DAYS", "created_at")
    audit = expired("AUDIT_DAYS", "created_at", "organization")
    return {
        "message_content": expired_messages(messages) if messages is not None else None,
        "media_files": expired_media(media) if media is not None else None,
        "webhook_events": expired_webhook_events(webhooks) if webhooks is not None else None,
        "pending_statuses": PendingStatus.objects.filter(pending) if pending is not None else None,
        "audit_entries": AuditEntry.objects.filter(audit) if audit is not None else None,
    }


# -- batches ------------------------------------------------------------------------------------


def id_batches(queryset: QuerySet, batch_size: int = BATCH_SIZE) -> Iterator[list[int]]:
    """The ids of ``queryset`` in ascending batches, each read by one short indexed query
    (keyset pagination: rows changed by an earlier batch are never read again)."""
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def redact_messages(
    queryset: QuerySet[Message], *, batch_size: int = BATCH_SIZE, tick: Callable[[int], None] | None = None
) -> int:
    """Empty the text and replace ``content``/``raw`` by the redaction marker of every
    message of ``queryset``; rows, statuses and timestamps stay. Returns how many."""
    done = 0
    for ids in id_batches(queryset, batch_size):
        with transaction.atomic():
            done += Message.objects.filter(pk__in=ids).update(
                text="", content=redaction_marker(), raw=redaction_marker()
            )
        if tick is not None:
            tick(len(ids))
    return done


def remove_media(
    queryset: QuerySet[MediaFile], *, batch_size: int = BATCH_SIZE, tick: Callable[[int], None] | None = None
) -> int:
    """Remove the stored file of every media row of ``queryset``, then the row. Files go
    first: a run that dies between the two leaves rows whose file is already gone, and
    the next run deletes them (removing a missing file is a no-op)."""
    storage = MediaFile._meta.get_field("file").storage
    removed = 0
    for ids in id_batches(queryset, batch_size):
        for name in MediaFile.objects.filter(pk__in=ids).exclude(file="").values_list("file", flat=True):
            try:
                storage.delete(name)
            except Exception:
                logger.exception("could not remove media file %s; its row stays for the next run", name)
                ids = [pk for pk in ids if not MediaFile.objects.filter(pk=pk, file=name).exists()]
        with transaction.atomic():
            removed += MediaFile.objects.filter(pk__in=ids).delete()[1].get(MediaFile._meta.label, 0)
        if tick is not None:
            tick(len(ids))
    return removed


def delete_in_batches(
    queryset: QuerySet, *, batch_size: int = BATCH_SIZE, tick: Callable[[int], None] | None = None
) -> int:
    """Delete the rows of ``queryset`` ``batch_size`` at a time, each batch its own transaction."""
    model = queryset.model
    deleted = 0
    for ids in id_batches(queryset, batch_size):
        with transaction.atomic():
            deleted += model.objects.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)
        if tick is not None:
            tick(len(ids))
    return deleted


# -- the purge ----------------------------------------------------------------------------------


def purge_expired_data(
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Redact or delete everything past its retention period. Returns per kind how many
    rows were (with ``dry_run``: would be) redacted or deleted. ``progress(done, total)``
    is called after each batch."""
    expired = _expired(now or timezone.now())
    counts = {kind: (queryset.count() if queryset is not None else 0) for kind, queryset in expired.items()}
    if dry_run:
        return counts
    total = sum(counts.values())
    done = 0

    def tick(rows: int) -> None:
        nonlocal done
        done = min(done + rows, total)
        if progress is not None:
            progress(done, total)

    result = dict.fromkeys(KINDS, 0)
    if expired["message_content"] is not None:
        result["message_content"] = redact_messages(
            expired["message_content"], batch_size=batch_size, tick=tick
        )
    if expired["media_files"] is not None:
        result["media_files"] = remove_media(expired["media_files"], batch_size=batch_size, tick=tick)
    for kind in ("webhook_events", "pending_statuses", "audit_entries"):
        if expired[kind] is not None:
            result[kind] = delete_in_batches(expired[kind], batch_size=batch_size, tick=tick)
    if progress is not None and done < total:
        progress(total, total)  # rows that changed under us since they were counted
    logger.info("purged expired data: %s", result)
    return result
