"""Message statuses, applied monotonically.

Meta delivers statuses at least once and in any order. A status only moves a
message forward: ``queued < sent < failed < delivered < read < played < deleted``
(``failed`` outranks ``sent`` because it is final for the send, but a message
that was delivered or read evidently did not fail). Every status's timestamp is
stored (``sent_at``, ``delivered_at``, ...) even when it arrives too late to
change ``status``; a ``failed`` status always records its error.

A status for a wamid with no ``Message`` row yet is kept as ``PendingStatus`` and
applied by :func:`apply_pending_statuses` when the row appears (inbound
processing calls it; the outbound send must call it after storing the wamid).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import correlation, signals
from ..exceptions import ItemRejected
from ..log_privacy import get_logger
from ..models import BusinessAccount, Message, PendingStatus, WebhookEvent
from .contact_identity import learn_from_status, of_status

logger = get_logger("wacloud.status")

RANK = {
    Message.Status.QUEUED: 0,
    Message.Status.RECEIVED: 0,
    Message.Status.SENT: 1,
    Message.Status.FAILED: 2,
    Message.Status.DELIVERED: 3,
    Message.Status.READ: 4,
    Message.Status.PLAYED: 5,
    Message.Status.DELETED: 6,
}

TIMESTAMP_FIELDS = {
    Message.Status.SENT: "sent_at",
    Message.Status.DELIVERED: "delivered_at",
    Message.Status.READ: "read_at",
    Message.Status.PLAYED: "played_at",
    Message.Status.FAILED: "failed_at",
    Message.Status.DELETED: "deleted_at",
}


def send_signal(signal: Any, **kwargs: Any) -> None:
    """Send ``signal`` now; a failing receiver is logged and does not undo or stop anything."""
    for receiver, result in signal.send_robust(**kwargs):
        if isinstance(result, Exception):
            logger.error("receiver %r of a wacloud signal failed", receiver, exc_info=result)


def send_signal_on_commit(signal: Any, **kwargs: Any) -> None:
    # Receivers run under the correlation id of the work that changed the data.
    transaction.on_commit(correlation.bind(partial(send_signal, signal, **kwargs)))


def _error_fields(errors: list[Any]) -> dict[str, Any]:
    """Meta's first error as Message fields (errors are ErrorDetail objects or dicts)."""
    if not errors:
        return {}
    first = errors[0]
    get = first.get if isinstance(first, dict) else lambda name, default=None: getattr(first, name, default)
    message = get("message", "") or ""
    details = get("details", "") or ""
    if details and details != message:
        message = f"{message}: {details}" if message else details
    return {
        "error_code": get("code"),
        "error_title": (get("title", "") or "")[:255],
        "error_message": message,
    }


def apply_status(
    message: Message,
    status: str,
    *,
    timestamp: datetime | None = None,
    errors: list[Any] | None = None,
    pricing: dict[str, Any] | None = None,
    event: Any = None,
) -> bool:
    """Apply one status to ``message`` (locked by the caller). Returns whether
    ``message.status`` changed; ``message_status_changed`` is sent after commit then."""
    update_fields, changed, previous = status_changes(
        message, status, timestamp=timestamp, errors=errors, pricing=pricing
    )
    if update_fields:
        message.save(update_fields=[*update_fields, "updated_at"])
    if changed:
        send_signal_on_commit(
            signals.message_status_changed,
            sender=Message,
            message=message,
            status=status,
            previous_status=previous,
            event=event,
            account=message.account,
        )
    return changed


def status_changes(
    message: Message,
    status: str,
    *,
    timestamp: datetime | None = None,
    errors: list[Any] | None = None,
    pricing: dict[str, Any] | None = None,
) -> tuple[list[str], bool, str]:
    """The rules above applied to ``message`` in memory (batch processing saves many
    at once). Returns the fields changed, whether ``status`` moved, and the status before."""
    update_fields = []
    when = timestamp or timezone.now()
    field = TIMESTAMP_FIELDS.get(status)
    if field and (getattr(message, field) is None or when < getattr(message, field)):
        # The earliest report of a status is when it happened; replays must not move it.
        setattr(message, field, when)
        update_fields.append(field)
    if status == Message.Status.FAILED and errors:
        for name, value in _error_fields(errors).items():
            setattr(message, name, value)
            update_fields.append(name)
    if pricing:
        message.pricing = {**message.pricing, **pricing}
        update_fields.append("pricing")
    previous = message.status
    changed = status in RANK and RANK[status] > RANK.get(previous, 0)
    if changed:
        message.status = status
        update_fields.append("status")
    elif status not in RANK:
        logger.info("status %r of %s is not one wacloud ranks; timestamp kept only", status, message.wamid)
    return update_fields, changed, previous


def _pricing(update: Any) -> dict[str, Any]:
    pricing = {
        "conversation_id": update.conversation_id,
        "conversation_origin": update.conversation_origin,
        "conversation_expiration": update.conversation_expiration.isoformat()
        if update.conversation_expiration
        else None,
        "category": update.pricing_category,
        "pricing_model": update.pricing_model,
        "type": update.pricing_type,
        "billable": update.billable,
        "biz_opaque_callback_data": update.biz_opaque_callback_data,
    }
    return {key: value for key, value in pricing.items() if value is not None}


def record_status_update(
    update: Any, account: BusinessAccount | None, webhook_event: WebhookEvent | None
) -> bool:
    """Apply a parsed ``StatusUpdate``, or keep it pending when its message is unknown.
    Call inside a transaction. Returns whether a message's status changed."""
    message = Message.objects.select_for_update().filter(wamid=update.message_id).first()
    errors = list(update.errors)
    if message is not None and account is not None and message.account_id != account.pk:
        raise ItemRejected(f"status for wamid {update.message_id}, a message of another account")
    if message is not None and account is not None:
        message.account = account  # the same row, already loaded: its signal needs no query
    if message is not None:
        learn_from_status(message.contact_id, of_status(update))  # the recipient's BSUID
        # The send's correlation id: its status records and signals line up with the send's.
        with correlation.use(correlation.message_id(message.pk)):
            logger.debug("status %s for %s (outbound message %s)", update.status, message.wamid, message.pk)
            return apply_status(
                message,
                update.status,
                timestamp=update.timestamp,
                errors=errors,
                pricing=_pricing(update),
                event=update,
            )
    PendingStatus.objects.get_or_create(
        wamid=update.message_id,
        status=update.status,
        defaults={
            "account": account,
            "timestamp": update.timestamp,
            "recipient_id": update.recipient_id or "",
            "errors": [_error_dict(error) for error in errors],
            "pricing": _pricing(update),
            "raw": update.raw,
            "webhook_event": webhook_event,
        },
    )
    # The message may be stored by a transaction that commits between our lookup
    # and our commit, and not see this pending row; looking again after our commit
    # closes that gap (whichever commits last finds the other's row).
    transaction.on_commit(partial(apply_pending_statuses_for_wamid, update.message_id))
    return False


def _error_dict(error: Any) -> dict[str, Any]:
    if isinstance(error, dict):
        return error
    return {name: getattr(error, name, None) for name in ("code", "title", "message", "details", "href")}


def apply_pending_statuses(message: Message, *, recheck_after_commit: bool = True) -> int:
    """Apply (in rank order) and delete the statuses that arrived before ``message``
    had its wamid. Returns how many were applied. Call it whenever a wamid is
    stored on a message; within a transaction it looks again after the commit
    (see :func:`record_status_update` for the race this closes)."""
    if not message.wamid:
        return 0
    applied = 0
    with transaction.atomic():
        # Only statuses from the message's own account (or from no account) may move it.
        pending = list(
            PendingStatus.objects.select_for_update()
            .filter(wamid=message.wamid)
            .filter(Q(account__isnull=True) | Q(account=message.account_id))
        )
        if pending:
            locked = Message.objects.select_for_update().get(pk=message.pk)
            pending.sort(key=lambda item: (RANK.get(item.status, -1), item.timestamp or timezone.now()))
            for item in pending:
                apply_status(
                    locked, item.status, timestamp=item.timestamp, errors=item.errors, pricing=item.pricing
                )
                applied += 1
            PendingStatus.objects.filter(pk__in=[item.pk for item in pending]).delete()
            # Keep the caller's instance in step with the row.
            for field in (
                "status",
                *TIMESTAMP_FIELDS.values(),
                "error_code",
                "error_title",
                "error_message",
                "pricing",
            ):
                setattr(message, field, getattr(locked, field))
    if recheck_after_commit and transaction.get_connection().in_atomic_block:
        transaction.on_commit(partial(apply_pending_statuses_for_wamid, message.wamid))
    return applied


def apply_pending_statuses_for_wamid(wamid: str) -> int:
    message = Message.objects.filter(wamid=wamid).first()
    if message is None:
        return 0
    return apply_pending_statuses(message, recheck_after_commit=False)
