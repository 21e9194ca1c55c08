"""Helpers for the batch processing tests: the setting, a drain that runs what waits for
the commit, and a snapshot of every row processing writes, free of ids and clocks."""

from __future__ import annotations

from typing import Any

from wacloud_django.models import (
    BusinessAccount,
    Contact,
    Conversation,
    MediaFile,
    Message,
    PendingStatus,
    Template,
    WebhookEvent,
)
from wacloud_django.services import webhook_batch


def batch_mode(settings: Any, **options: Any) -> None:
    """Batch processing on; by default the intake only stores (the test drains)."""
    conf = {"ENABLED": True, "DRAIN": "command", **options}
    settings.WACLOUD = {**settings.WACLOUD, "WEBHOOK_BATCH": conf}


def drain(capture: Any, limit: int | None = None) -> dict[str, int]:
    """Every pending event processed in batches of ``limit``; after-commit work run."""
    with capture(execute=True):
        return webhook_batch.drain(limit=limit).counts


def _account(account_id: int | None) -> str | None:
    return BusinessAccount.objects.get(pk=account_id).phone_number_id if account_id else None


def snapshot() -> dict[str, Any]:
    """The rows processing writes, by natural keys (wamids, wa_ids, numbers, body hashes)."""
    wamid = dict(Message.objects.values_list("pk", "wamid"))
    wa_id = dict(Contact.objects.values_list("pk", "wa_id"))
    sha = dict(WebhookEvent.objects.values_list("pk", "body_sha256"))
    message_fields = [
        "direction",
        "type",
        "text",
        "content",
        "status",
        "timestamp",
        "sent_at",
        "delivered_at",
        "read_at",
        "played_at",
        "failed_at",
        "deleted_at",
        "edited_at",
        "error_code",
        "error_title",
        "error_message",
        "reply_to_wamid",
        "pricing",
        "raw",
    ]
    messages = {
        message.wamid: {
            **{name: getattr(message, name) for name in message_fields},
            "account": _account(message.account_id),
            "contact": wa_id.get(message.contact_id),
            "conversation": (message.conversation.contact.wa_id, message.conversation.status)
            if message.conversation_id
            else None,
            "reply_to": wamid.get(message.reply_to_id),
        }
        for message in Message.objects.select_related("conversation__contact")
    }
    contacts = sorted(
        (_account(c.account_id), c.wa_id, c.name, repr(c.profile), c.last_inbound_at, c.opted_out)
        for c in Contact.objects.all()
    )
    conversations = sorted(
        (
            _account(c.account_id),
            wa_id[c.contact_id],
            c.status,
            c.unread_count,
            c.last_message_at,
            c.last_inbound_at,
            c.service_window_expires_at,
        )
        for c in Conversation.objects.all()
    )
    media = sorted(
        (
            wamid.get(m.message_id),
            m.media_id,
            _account(m.account_id),
            m.mime_type,
            m.expected_sha256,
            m.filename,
            m.caption,
            m.download_status,
        )
        for m in MediaFile.objects.all()
    )
    pending = sorted(
        (
            p.wamid,
            p.status,
            _account(p.account_id),
            p.timestamp,
            p.recipient_id,
            repr(p.errors),
            repr(p.pricing),
            repr(p.raw),
            sha.get(p.webhook_event_id),
        )
        for p in PendingStatus.objects.all()
    )
    templates = sorted(
        (
            t.waba_id,
            t.name,
            t.language,
            t.status,
            t.category,
            t.rejection_reason,
            t.quality_score,
            t.template_id,
            _account(t.account_id),
        )
        for t in Template.objects.all()
    )
    events = sorted(
        (
            e.body_sha256,
            e.status,
            e.event_count,
            repr(e.item_errors),
            e.last_error,
            e.attempts,
            e.retriable,
            e.processed_at is not None,
        )
        for e in WebhookEvent.objects.all()
    )
    accounts = sorted(
        (a.phone_number_id, a.waba_id, a.name, a.display_phone_number, a.is_active)
        for a in BusinessAccount.objects.all()
    )
    return {
        "messages": messages,
        "contacts": contacts,
        "conversations": conversations,
        "media": media,
        "pending": pending,
        "templates": templates,
        "events": events,
        "accounts": accounts,
    }
