"""The plain view wacloud's webhook is measured against (bench_webhooks.py, bench_intake.py):
``json`` + ``hmac`` + the ORM in Python, everything done in the request. It checks the
signature, stores the raw event once, and then stores what it knows: each message (its
contact, conversation, counters and media) and each status (a select and an update per
status, never moving a message backwards). Other fields are stored raw only."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

APP_SECRET = "bench-app-secret"
_RANK = {
    "queued": 0,
    "received": 0,
    "sent": 1,
    "failed": 2,
    "delivered": 3,
    "read": 4,
    "played": 5,
    "deleted": 6,
}
_STAMPS = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "failed": "failed_at"}


def signature(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def baseline_view(request):
    from django.db import transaction
    from django.http import HttpResponse
    from django.utils import timezone

    from wacloud_django.models import WebhookEvent

    raw = request.body
    if not hmac.compare_digest(signature(raw), request.headers.get("X-Hub-Signature-256", "")):
        return HttpResponse(status=403)
    payload = json.loads(raw)
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            body_sha256=hashlib.sha256(raw).hexdigest(), defaults={"body": raw, "signature_verified": True}
        )
        if not created:
            return HttpResponse("OK")
        count = 0
        for entry in payload["entry"]:
            for change in entry["changes"]:
                value = change["value"]
                if change["field"] != "messages" or "metadata" not in value:
                    continue
                account = _account(value["metadata"], entry["id"])
                contacts = value.get("contacts", [])
                names = {c.get("wa_id"): c.get("profile", {}).get("name", "") for c in contacts}
                for item in value.get("messages", []):
                    count += _store_message(account, item, names)
                # Locked in one order: concurrent requests naming the same messages never deadlock.
                for item in sorted(value.get("statuses", []), key=lambda status: status["id"]):
                    count += _apply_status(item)
        event.status, event.event_count, event.processed_at = "processed", count, timezone.now()
        event.save(update_fields=["status", "event_count", "processed_at"])
    return HttpResponse("OK")


def _account(metadata, waba_id):
    from wacloud_django.models import BusinessAccount

    account, _ = BusinessAccount.objects.get_or_create(
        phone_number_id=metadata["phone_number_id"], defaults={"waba_id": waba_id, "is_active": False}
    )
    return account


def _store_message(account, item, names) -> int:
    from django.db.models import F

    from wacloud_django.models import Contact, Conversation, MediaFile, Message

    when = datetime.fromtimestamp(int(item["timestamp"]), UTC)
    sender = item.get("from")
    contact = conversation = None
    if sender:
        name = names.get(sender, "")[:200]
        contact, _ = Contact.objects.get_or_create(account=account, wa_id=sender, defaults={"name": name})
        conversation, _ = Conversation.objects.get_or_create(account=account, contact=contact, status="open")
    kind = item.get("type", "unknown")
    body = item.get(kind) if isinstance(item.get(kind), dict) else {}
    message, created = Message.objects.get_or_create(
        wamid=item["id"],
        defaults={
            "account": account,
            "contact": contact,
            "conversation": conversation,
            "direction": "inbound",
            "type": kind[:32],
            "content": item,
            "text": body.get("body") or body.get("caption") or "",
            "status": "received",
            "timestamp": when,
            "raw": item,
        },
    )
    if not created:
        return 1
    if conversation is not None:
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=when,
            last_inbound_at=when,
            service_window_expires_at=when + timedelta(hours=24),
            unread_count=F("unread_count") + 1,
        )
        Contact.objects.filter(pk=contact.pk).update(last_inbound_at=when)
    if body.get("id") and kind in ("image", "video", "audio", "document", "sticker"):
        mime, caption = body.get("mime_type", "")[:128], body.get("caption", "")
        media = {"account": account, "mime_type": mime, "caption": caption}
        MediaFile.objects.get_or_create(message=message, media_id=body["id"], defaults=media)
    return 1


def _apply_status(item) -> int:
    from wacloud_django.models import Message

    message = Message.objects.select_for_update().filter(wamid=item["id"]).first()
    status = item["status"]
    if message is None or status not in _RANK:
        return 1
    when = datetime.fromtimestamp(int(item["timestamp"]), UTC)
    fields = []
    stamp = _STAMPS.get(status)
    if stamp and getattr(message, stamp) is None:
        setattr(message, stamp, when)
        fields.append(stamp)
    if _RANK[status] > _RANK.get(message.status, 0):
        message.status = status
        fields.append("status")
    if fields:
        message.save(update_fields=[*fields, "updated_at"])
    return 1
