"""Processing one stored webhook event: C++ parse, then each event applied in
its own transaction, idempotently (replays and concurrent deliveries of the
same message never create a second row, and signals fire only for real changes).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from functools import partial
from typing import Any

from django.db import DataError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from wacloud import webhook as wacloud_webhook
from wacloud.errors import WebhookPayloadError
from wacloud.events import EventType

from .. import correlation, signals
from ..conf import get_setting, use_celery
from ..exceptions import ItemRejected
from ..log_privacy import get_logger
from ..models import (
    SERVICE_WINDOW,
    BusinessAccount,
    Contact,
    Conversation,
    MediaFile,
    Message,
    WebhookEvent,
)
from . import contact_identity
from .accounts import client_for_account, ensure_account
from .field_updates import apply_field_update, apply_template_status
from .flows import announce_completion
from .live_updates import publishing_together
from .rows import insert_or_get
from .statuses import apply_pending_statuses, record_status_update, send_signal, send_signal_on_commit
from .webhook_auth import Signer

logger = get_logger("wacloud.inbound")

# Message types that change an earlier message rather than add one: not counted as unread.
_MODIFIER_TYPES = {"reaction", "edit", "revoke"}
# InboundMessage fields that describe the content (the rest is routing and metadata).
_CONTENT_FIELDS = (
    "text", "media", "location", "contacts", "interactive", "button", "reaction", "order", "system",
    "referral", "context", "original_message_id", "edited_type", "unsupported_type", "group_id", "errors",
)  # fmt: skip


#: Database errors that say nothing about the item (a lost connection, a deadlock, a
#: serialization failure): the whole event is rolled back and retried.
_TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
#: Meta's ids fit these columns; a longer one is not a real id and its item is refused.
_ID_LIMITS = {"wa_id": 64, "wamid": 255}
# A NUL escape is the only way a JSON body can carry U+0000, which PostgreSQL can
# store in neither text nor jsonb; an even run of backslashes before it is literal text.
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


class _Skip(Exception):
    """The event needs no processing (already done, or being done by another worker)."""


def storable_body(body: bytes) -> bytes:
    """``body`` with each ``\\u0000`` escape made ``\\ufffd`` (same length, so parse
    errors still point at the right byte); the stored event keeps the original."""
    if b"\\u0000" not in body:
        return body
    return _NUL_ESCAPE.sub(rb"\1\\ufffd", body)


@correlation.scoped(correlation.webhook_event_id)
def process_webhook_event(event_id: int, *, force: bool = False) -> WebhookEvent:
    """Process the stored webhook event ``event_id``; returns it with its new status.

    Claiming, applying every parsed item and marking the row is one transaction:
    one commit per webhook, and the claim's row lock keeps a second worker out until
    it commits (it then finds the event done). Each item is applied in a savepoint of
    its own, so one item never blocks its neighbours:

    - an item that cannot be stored (an id too long, a value the database refuses,
      an account its signer may not speak for, or one the parser could not read) is
      recorded in ``item_errors`` and the event ends ``partial``;
    - an unexpected error in an item is recorded too, the others are stored, and the
      event ends ``failed`` (retriable): the error is re-raised after the commit so
      the task retries, and a retry re-applies everything idempotently;
    - a database error that is not about the item (connection lost, deadlock) rolls
      the whole attempt back, is recorded on the event and is re-raised.

    A body the parser refuses marks the event failed for good. ``force`` reprocesses
    an event whatever its status."""
    with publishing_together():  # the inbox's live events of the body, sent together
        return _process_webhook_event(event_id, force)


def _process_webhook_event(event_id: int, force: bool) -> WebhookEvent:
    try:
        with transaction.atomic():
            event = _claim(event_id, force)
            correlation.replace(correlation.for_webhook_event(event))  # the intake's X-Request-Id
            unexpected = process_claimed_event(event)
    except _Skip:
        return WebhookEvent.objects.get(pk=event_id)
    except Exception as exc:
        event = _record_failure(event_id, f"{type(exc).__name__}: {exc}")
        signal_processing_failed(event, exc)
        raise
    if unexpected is not None:
        signal_processing_failed(event, unexpected)
        raise unexpected
    return event


def process_claimed_event(
    event: WebhookEvent, parsed: list[Any] | WebhookPayloadError | None = None
) -> Exception | None:
    """Apply the items of an event already claimed in the caller's transaction and mark
    it; returns the unexpected item error (the event is then failed), else ``None``.
    ``parsed``: the body's events or its parse error, when already parsed (batches)."""
    if parsed is None:
        try:
            parsed = wacloud_webhook.parse(storable_body(event.body_bytes))
        except WebhookPayloadError as exc:
            parsed = exc
    if isinstance(parsed, WebhookPayloadError):
        reject_unreadable_body(event, parsed)
        return None
    signer = Signer.of_event(event.account) if event.signature_verified else None
    failures, unexpected = [], None
    for index, item in enumerate(parsed):
        failure, error = _apply_item(index, item, event, signer)
        if failure is not None:
            failures.append(failure)
        unexpected = unexpected or error
    if unexpected is not None:
        _finish(event, WebhookEvent.Status.FAILED, f"{type(unexpected).__name__}: {unexpected}",
                event_count=len(parsed), item_errors=failures)  # fmt: skip
    else:
        status = WebhookEvent.Status.PARTIAL if failures else WebhookEvent.Status.PROCESSED
        _finish(event, status, failure_summary(failures, len(parsed)), event_count=len(parsed),
                item_errors=failures)  # fmt: skip
    return unexpected


def reject_unreadable_body(event: WebhookEvent, error: WebhookPayloadError) -> None:
    """A body the parser refuses: failed for good, and ``webhook_error`` after the commit."""
    _finish(event, WebhookEvent.Status.FAILED, f"{error} (at {error.path or '$'})", retriable=False)
    send_signal_on_commit(
        signals.webhook_error, sender=WebhookEvent, reason="malformed_body", error=error,
        request=None, webhook_event=event, event=None, account=event.account,
    )  # fmt: skip


def signal_processing_failed(event: WebhookEvent | None, error: Exception) -> None:
    if event is not None:
        send_signal(
            signals.webhook_error, sender=WebhookEvent, reason="processing_failed", error=error,
            request=None, webhook_event=event, event=None, account=event.account,
        )  # fmt: skip


#: Errors that belong to one item: retrying the item cannot fix them.
_ITEM_ERRORS = (ItemRejected, DataError, IntegrityError, ValueError)


def _apply_item(
    index: int, item: Any, event: WebhookEvent, signer: Signer | None
) -> tuple[dict[str, Any] | None, Exception | None]:
    """Apply one parsed item in its own savepoint. Returns its failure record (or
    ``None``) and the error when it was an unexpected one (the event is then retried)."""
    unexpected = None
    if item.event_type == EventType.INVALID:
        error: Exception = ItemRejected(item.reason)
        account = event.account
        failure = item_failure(index, item, error, path=item.path)
    else:
        try:
            with transaction.atomic():
                account = _apply(item, event, signer)
        except _TRANSIENT_DB_ERRORS:
            raise
        except Exception as exc:
            error, account = exc, event.account
            failure = item_failure(index, item, exc)
            if not isinstance(exc, _ITEM_ERRORS):
                unexpected = exc
                logger.exception("webhook event %s: item %s failed unexpectedly", event.pk, index)
        else:
            failure = None
    send_signal_on_commit(
        signals.webhook_event_received, sender=WebhookEvent, event=item, webhook_event=event, account=account,
    )  # fmt: skip
    if failure is not None and unexpected is None:
        logger.warning("webhook event %s: item %s not applied: %s", event.pk, index, failure["error"])
        send_signal_on_commit(
            signals.webhook_error, sender=WebhookEvent, reason="item_failed", error=error, request=None,
            webhook_event=event, event=item, account=account,
        )  # fmt: skip
    return failure, unexpected


def check_id(value: str | None, kind: str) -> None:
    """Refuse an id longer than its column (``kind``: ``wa_id`` or ``wamid``)."""
    limit = _ID_LIMITS[kind]
    if value is not None and len(value) > limit:
        raise ItemRejected(
            f"{kind} is {len(value)} characters long (Meta's fit in {limit}): {value[:40]!r}..."
        )


def item_failure(index: int, item: Any, error: Exception, path: str = "") -> dict[str, Any]:
    kind = getattr(item, "kind", None) or str(item.event_type)
    item_id = getattr(item, "message_id", None) or getattr(item, "item_id", None)
    return {
        "index": index,
        "kind": kind,
        "id": item_id,
        "path": path,
        "error": f"{type(error).__name__}: {error}"[:1000],
    }


def failure_summary(failures: list[dict[str, Any]], total: int) -> str:
    if not failures:
        return ""
    first = failures[0]
    return (
        f"{len(failures)} of {total} items not applied; "
        f"first: item {first['index']} ({first['kind']}): {first['error']}"
    )


def _claim(event_id: int, force: bool) -> WebhookEvent:
    """Mark the event processing and count the attempt (one conditional UPDATE, whose
    row lock lasts until the caller's transaction ends)."""
    rows = WebhookEvent.objects.filter(pk=event_id)
    if not force:
        rows = rows.filter(status__in=[WebhookEvent.Status.PENDING, WebhookEvent.Status.FAILED])
    claimed = rows.update(
        status=WebhookEvent.Status.PROCESSING, attempts=F("attempts") + 1, started_at=timezone.now()
    )
    if not claimed:
        if not WebhookEvent.objects.filter(pk=event_id).exists():
            raise WebhookEvent.DoesNotExist(f"no webhook event {event_id}")
        raise _Skip
    return WebhookEvent.objects.select_related("account").get(pk=event_id)


def _finish(
    event: WebhookEvent,
    status: str,
    error: str,
    event_count: int | None = None,
    *,
    item_errors: list[dict[str, Any]] | None = None,
    retriable: bool = True,
) -> None:
    event.status = status
    event.last_error = error
    event.retriable = retriable
    event.item_errors = item_errors or []
    done = status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.PARTIAL)
    event.processed_at = timezone.now() if done else None
    fields = ["status", "last_error", "retriable", "item_errors", "processed_at"]
    if event_count is not None:
        event.event_count = event_count
        fields.append("event_count")
    event.save(update_fields=fields)
    if error and not done:
        logger.warning("webhook event %s failed: %s", event.pk, error)
    else:
        logger.debug("webhook event %s %s (%s items)", event.pk, status, event.event_count)


def _record_failure(event_id: int, error: str) -> WebhookEvent | None:
    """The failed attempt was rolled back; count it and keep its error for the admin."""
    WebhookEvent.objects.filter(pk=event_id).update(
        status=WebhookEvent.Status.FAILED, attempts=F("attempts") + 1, last_error=error, processed_at=None
    )
    logger.warning("webhook event %s failed: %s", event_id, error)
    return WebhookEvent.objects.select_related("account").filter(pk=event_id).first()


def _account_for(item: Any, event: WebhookEvent, signer: Signer | None) -> BusinessAccount | None:
    """The account an item belongs to. Items of a signed event must belong to an
    account its signer speaks for (checked at intake too; checked again here so a
    stored body never moves data into another account)."""
    if signer is not None:
        reason = signer.refusal(item.phone_number_id, item.waba_id)
        if reason:
            raise ItemRejected(f"not applied: {reason}")
    if item.phone_number_id:
        if event.account_id and event.account.phone_number_id == item.phone_number_id:
            return event.account
        return ensure_account(
            item.phone_number_id,
            waba_id=item.waba_id or "",
            display_phone_number=item.display_phone_number or "",
        )
    if item.waba_id:
        found = BusinessAccount.objects.filter(waba_id=item.waba_id).order_by("pk").first()
        if found:
            return found
    return event.account


def _apply(item: Any, event: WebhookEvent, signer: Signer | None = None) -> BusinessAccount | None:
    account = _account_for(item, event, signer)
    if item.event_type == EventType.MESSAGE:
        check_id(item.message_id, "wamid")
        if account is None:
            raise ValueError(
                f"message {item.message_id} names no phone number id and the event has no account"
            )
        store_inbound_message(item, account, event)
    elif item.event_type == EventType.STATUS:
        check_id(item.message_id, "wamid")
        record_status_update(item, account, event)
    elif item.event_type == EventType.TEMPLATE_STATUS:
        apply_template_status(item, account)
    elif item.event_type == EventType.ERROR:
        logger.warning("Meta reported errors for webhook event %s: %s", event.pk, item.errors)
        send_signal_on_commit(
            signals.webhook_error, sender=WebhookEvent, reason="meta_error", error=None, request=None,
            webhook_event=event, event=item, account=account,
        )  # fmt: skip
    elif item.event_type == EventType.FIELD_UPDATE:
        apply_field_update(item, account)
    elif item.event_type == EventType.USER_ID_UPDATE:
        contact_identity.apply_user_id_update(item, account)
    return account


# -- messages ------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Event field values as JSON: dataclasses as dicts, datetimes as ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _content(item: Any) -> dict[str, Any]:
    content = {}
    for name in _CONTENT_FIELDS:
        value = getattr(item, name, None)
        if value in (None, [], False):
            continue
        content[name] = _jsonable(value)
    return content


def _display_text(item: Any) -> str:
    if item.text:
        return item.text
    if item.media and item.media.caption:
        return item.media.caption
    if item.interactive:
        return item.interactive.title or item.interactive.body or ""
    if item.button:
        return item.button.text or ""
    if item.reaction:
        return item.reaction.emoji or ""
    return ""


def target_wamid(item: Any) -> str:
    if item.reaction and item.reaction.message_id:
        return item.reaction.message_id
    if item.original_message_id:
        return item.original_message_id
    if item.context and item.context.message_id:
        return item.context.message_id
    return ""


def contact_key(item: Any) -> str | None:
    """The key a batch groups a message's contact by: its number, else its business-scoped
    user id; none: the message is kept without a contact. The contact itself is found by
    contact_identity.py (by BSUID first)."""
    inbound = not item.is_echo
    return (
        (item.from_wa_id if inbound else item.to_wa_id)
        or (item.contact or {}).get("wa_id")
        or (item.from_user_id if inbound else getattr(item, "to_user_id", None))
    )


def new_contact_fields(item: Any, inbound: bool) -> dict[str, Any]:
    return {"name": (item.contact_name or "")[:200] if inbound else "", "profile": item.contact or {}}


def contact_changes(contact: Contact, item: Any, inbound: bool) -> dict[str, Any]:
    """What a message says about its known contact that the row does not say yet."""
    changes: dict[str, Any] = {}
    if inbound and item.contact_name and item.contact_name[:200] != contact.name:
        changes["name"] = item.contact_name[:200]
    if inbound and item.contact and item.contact != contact.profile:
        changes["profile"] = item.contact
    return changes


def upsert_contact(
    account: BusinessAccount, identity: contact_identity.Identity, item: Any, when: datetime, inbound: bool
) -> Contact:
    """The message's contact (by business-scoped user id, else number: contact_identity.py),
    created or told what the message says about the user."""
    contact, created = contact_identity.contact_for(account, identity, new_contact_fields(item, inbound))
    if created:
        return contact
    changes = contact_changes(contact, item, inbound)
    if changes:
        Contact.objects.filter(pk=contact.pk).update(**changes, updated_at=timezone.now())
        for name, value in changes.items():
            setattr(contact, name, value)
    return contact


def open_conversation(account: BusinessAccount, contact: Contact) -> Conversation:
    """The contact's open conversation, opened if there is none (a partial unique
    index makes the concurrent case end with one)."""
    conversation, _ = Conversation.objects.get_or_create(
        account=account, contact=contact, status=Conversation.Status.OPEN
    )
    return conversation


def _advance_conversation(conversation: Conversation, message: Message, counts_as_unread: bool) -> None:
    """Update counters with SQL expressions, so concurrent messages never lose an increment."""
    when = message.timestamp
    changes: dict[str, Any] = {"last_message_at": Greatest(Coalesce("last_message_at", when), when)}
    if message.direction == Message.Direction.INBOUND:
        window_end = when + SERVICE_WINDOW
        changes["last_inbound_at"] = Greatest(Coalesce("last_inbound_at", when), when)
        changes["service_window_expires_at"] = Greatest(
            Coalesce("service_window_expires_at", window_end), window_end
        )
        if counts_as_unread:
            changes["unread_count"] = F("unread_count") + 1
    Conversation.objects.filter(pk=conversation.pk).update(**changes, updated_at=timezone.now())
    if message.direction == Message.Direction.INBOUND:
        Contact.objects.filter(pk=message.contact_id).update(
            last_inbound_at=Greatest(Coalesce("last_inbound_at", when), when)
        )


def store_inbound_message(item: Any, account: BusinessAccount, event: WebhookEvent | None = None) -> Message:
    """Store a parsed ``InboundMessage`` (or echo) once; later deliveries return the stored row."""
    when = item.timestamp or timezone.now()
    inbound = not item.is_echo
    identity = contact_identity.of_message(item).check()
    contact = upsert_contact(account, identity, item, when, inbound) if identity else None
    conversation = open_conversation(account, contact) if contact else None
    target = target_wamid(item)
    reply_to = Message.objects.filter(wamid=target, account=account).first() if target else None
    message, created = insert_or_get(
        Message,
        wamid=item.message_id,
        defaults=new_message_fields(item, account, contact, conversation, reply_to),
    )
    if not created:
        if message.account_id != account.pk:
            raise ItemRejected(f"wamid {item.message_id} is already stored under another account")
        return message
    if conversation is not None:
        _advance_conversation(
            conversation, message, counts_as_unread=inbound and item.type not in _MODIFIER_TYPES
        )
    apply_to_target(message)
    # Messages that arrived earlier and point at this one (a reply overtaking its original).
    for referrer in Message.objects.filter(
        reply_to_wamid=message.wamid, reply_to__isnull=True, account=message.account_id
    ):
        referrer.reply_to = message
        referrer.save(update_fields=["reply_to", "updated_at"])
        apply_to_target(referrer)
    if item.media is not None:
        _store_media(item, account, message)
    if not inbound:
        apply_pending_statuses(message)
    elif get_setting("AUTO_MARK_READ"):
        transaction.on_commit(partial(schedule_mark_read, message.pk))
    if inbound and contact is not None:
        # STOP/START are applied before any other automation (message_received receivers) sees them.
        from ..automation.services.consent_keywords import apply_consent_keyword

        apply_consent_keyword(message, contact)
        # Then a reply to a pending confirmation (Y/N/CANCEL or its buttons), in this transaction,
        # so it is resolved once and before message_received's receivers (support, help desk).
        from ..automation.services.confirmations import apply_reply

        apply_reply(message, contact)
    send_signal_on_commit(
        signals.message_received, sender=Message, message=message, event=item, account=account,
        contact=contact, conversation=conversation, webhook_event=event,
    )  # fmt: skip
    if inbound:
        announce_completion(message, item, account, contact)  # flow_completed, for a Flow's nfm_reply
    return message


def new_message_fields(
    item: Any,
    account: BusinessAccount,
    contact: Contact | None,
    conversation: Conversation | None,
    reply_to: Message | None,
) -> dict[str, Any]:
    """The row of a message stored for the first time (but its wamid)."""
    when = item.timestamp or timezone.now()
    inbound = not item.is_echo
    return {
        "account": account,
        "conversation": conversation,
        "contact": contact,
        "direction": Message.Direction.INBOUND if inbound else Message.Direction.OUTBOUND,
        "type": item.type[:32],
        "text": _display_text(item),
        "content": _content(item),
        "status": Message.Status.RECEIVED if inbound else Message.Status.SENT,
        "timestamp": when,
        "sent_at": None if inbound else when,
        "reply_to": reply_to,
        "reply_to_wamid": target_wamid(item),
        "raw": item.raw,
        **_error_summary(item.errors),
    }


def _error_summary(errors: list[Any]) -> dict[str, Any]:
    if not errors:
        return {}
    first = errors[0]
    text = first.message or first.title
    if first.details and first.details != text:
        text = f"{text}: {first.details}" if text else first.details
    return {"error_code": first.code, "error_title": first.title[:255], "error_message": text}


def apply_to_target(message: Message) -> None:
    """An edit or revoke marks the message it targets (when that message is stored)."""
    target_id = message.reply_to_id
    if target_id is None:
        return
    if message.type == "edit":
        Message.objects.filter(pk=target_id).filter(
            Q(edited_at__isnull=True) | Q(edited_at__lt=message.timestamp)
        ).update(edited_at=message.timestamp, updated_at=timezone.now())
    elif message.type == "revoke":
        Message.objects.filter(pk=target_id, deleted_at__isnull=True).update(
            deleted_at=message.timestamp, updated_at=timezone.now()
        )


def _store_media(item: Any, account: BusinessAccount, message: Message) -> None:
    media_file, created = MediaFile.objects.get_or_create(
        message=message, media_id=item.media.id, defaults=new_media_fields(item.media, account)
    )
    if created and get_setting("MEDIA_DOWNLOAD"):
        from .media import schedule_download

        transaction.on_commit(partial(schedule_download, media_file.pk))


def new_media_fields(media: Any, account: BusinessAccount) -> dict[str, Any]:
    return {
        "account": account,
        "mime_type": (media.mime_type or "")[:128],
        "expected_sha256": (media.sha256 or "")[:128],
        "filename": (media.filename or "")[:255],
        "caption": media.caption or "",
    }


def mark_message_read(message_id: int) -> None:
    """Tell Meta an inbound message was read (the blue ticks the user sees)."""
    message = Message.objects.select_related("account").get(pk=message_id)
    client_for_account(message.account).mark_read(message.wamid)


def schedule_mark_read(message_id: int) -> None:
    """``AUTO_MARK_READ``: on Celery or inline; never raises (the message is stored either way)."""
    try:
        if use_celery():
            from ..tasks import mark_message_read as task

            task.delay(message_id)
        else:
            mark_message_read(message_id)
    except Exception:
        logger.exception("could not mark message %s read", message_id)
