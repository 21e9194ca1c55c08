"""Statuses of a batch (services/batch_apply.py): the messages they move locked and
read in one query, every status applied in item order by statuses.py's rules (never
backwards), the rows written in one UPDATE, unknown wamids kept as PendingStatus."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.utils import timezone

from .. import correlation, signals
from ..exceptions import ItemRejected
from ..models import Message, PendingStatus
from .batch_apply import Entry
from .bulk_sql import update_rows
from .contact_identity import learn_from_status, of_status
from .statuses import _error_dict, _pricing, apply_pending_statuses, status_changes


def store_statuses(entries: list[Entry]) -> None:
    if not entries:
        return
    wamids = list(dict.fromkeys(entry.item.message_id for entry in entries))
    # Locked in primary key order: concurrent batches wait for each other, never deadlock.
    locked = Message.objects.select_for_update().filter(wamid__in=wamids).order_by("pk")
    messages = {message.wamid: message for message in locked}
    changed: dict[int, set[str]] = {}
    pending: dict[tuple[str, str], PendingStatus] = {}
    for entry in entries:
        update, account = entry.item, entry.account
        message = messages.get(update.message_id)
        if message is None:
            # Kept until its message is stored; the first of each (wamid, status) stands.
            pending.setdefault(
                (update.message_id, update.status),
                PendingStatus(
                    wamid=update.message_id,
                    status=update.status,
                    account=account,
                    timestamp=update.timestamp,
                    recipient_id=update.recipient_id or "",
                    errors=[_error_dict(error) for error in update.errors],
                    pricing=_pricing(update),
                    raw=update.raw,
                    webhook_event=entry.event,
                ),
            )
            continue
        if account is not None and message.account_id != account.pk:
            entry.reject(ItemRejected(f"status for wamid {update.message_id}, a message of another account"))
            continue
        if account is not None:
            message.account = account  # the same row: its signal needs no query
        learn_from_status(message.contact_id, of_status(update))  # the recipient's BSUID (rarely sent)
        fields, moved, previous = status_changes(
            message,
            update.status,
            timestamp=update.timestamp,
            errors=list(update.errors),
            pricing=_pricing(update),
        )
        changed.setdefault(message.pk, set()).update(fields)
        if moved:
            # Under the send's correlation id, as one status at a time.
            entry.signal(
                signals.message_status_changed,
                correlation_id=correlation.message_id(message.pk),
                sender=Message,
                message=message,
                status=update.status,
                previous_status=previous,
                event=update,
                account=message.account,
            )
    _save(messages, changed)
    if pending:
        rows = [pending[key] for key in sorted(pending)]
        PendingStatus.objects.bulk_create(rows, ignore_conflicts=True)
        # A message stored by a transaction committing meanwhile did not see these rows: look again.
        transaction.on_commit(partial(apply_pending_for_wamids, sorted({wamid for wamid, _ in pending})))


def _save(messages: dict[str, Message], changed: dict[int, set[str]]) -> None:
    fields = sorted(set().union(*changed.values())) if changed else []
    if not fields:
        return
    now = timezone.now()
    by_pk = {message.pk: message for message in messages.values()}
    rows = {
        pk: {**{name: getattr(by_pk[pk], name) for name in fields}, "updated_at": now}
        for pk, names in changed.items()
        if names
    }
    for pk in rows:
        by_pk[pk].updated_at = now
    update_rows(Message, rows, [*fields, "updated_at"])


def apply_pending_for_wamids(wamids: list[str]) -> int:
    """statuses.apply_pending_statuses_for_wamid for many wamids, with one look-up."""
    applied = 0
    for message in Message.objects.filter(wamid__in=wamids).order_by("pk"):
        applied += apply_pending_statuses(message, recheck_after_commit=False)
    return applied
