"""Raw webhook events: store once, hand to processing, reprocess, expire."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..conf import get_setting, use_celery
from ..models import BusinessAccount, PendingStatus, WebhookEvent

logger = logging.getLogger("wacloud.webhook")

#: Request headers kept with each event (for audits and re-verification).
KEPT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "X-Hub-Signature-256", "X-Forwarded-For")


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def record_webhook_event(
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    account: BusinessAccount | None = None,
    signature_verified: bool,
    fields: Iterable[str] = (),
    error: str = "",
) -> tuple[WebhookEvent, bool]:
    """Store ``body`` unless an identical body is already stored.

    Returns ``(event, created)``. ``error`` stores the event as failed at once
    (a body that can never be processed, kept for inspection)."""
    defaults = {
        "body": bytes(body),
        "headers": {name: value for name, value in (headers or {}).items() if value},
        "account": account,
        "signature_verified": signature_verified,
        "fields": ",".join(dict.fromkeys(fields))[:255],
        "status": WebhookEvent.Status.FAILED if error else WebhookEvent.Status.PENDING,
        "last_error": error,
    }
    # get_or_create retries the lookup after an IntegrityError, so two identical
    # deliveries racing on PostgreSQL still end with one row.
    return WebhookEvent.objects.get_or_create(body_sha256=body_sha256(body), defaults=defaults)


def schedule_processing(event_id: int) -> None:
    """Process the event on Celery, or inline when Celery is not in use.

    Never raises: the event is already stored, so a broker outage or a
    processing error leaves it pending/failed for a retry, never lost."""
    try:
        if use_celery():
            from ..tasks import process_webhook_event

            process_webhook_event.delay(event_id)
            return
    except Exception:
        logger.exception("could not queue webhook event %s; it stays pending", event_id)
        return
    from .inbound import process_webhook_event

    try:
        process_webhook_event(event_id)
    except Exception:
        # Already recorded on the event (status failed, last_error) by the service.
        logger.exception("webhook event %s failed inline; reprocess it later", event_id)


def schedule_processing_on_commit(event_id: int) -> None:
    transaction.on_commit(lambda: schedule_processing(event_id))


def reprocess_webhook_events(event_ids: Iterable[int]) -> dict[str, int]:
    """Process the given events again, whatever their status (processing is
    idempotent: messages are unique on their wamid, statuses never regress).
    Returns counts by resulting status."""
    from .inbound import process_webhook_event

    counts: dict[str, int] = {}
    for event_id in event_ids:
        try:
            event = process_webhook_event(event_id, force=True)
            status = event.status
        except Exception:
            logger.exception("reprocessing webhook event %s failed", event_id)
            status = WebhookEvent.Status.FAILED
        counts[status] = counts.get(status, 0) + 1
    return counts


def process_pending_webhook_events(older_than: timedelta = timedelta(minutes=5), limit: int = 500) -> int:
    """Schedule events left pending: a broker that was down, or a worker that died
    mid-processing (its transaction rolled back, so the event is still pending).
    Run it periodically (Celery beat) when Celery is in use."""
    cutoff = timezone.now() - older_than
    ids = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, received_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:limit]
    )
    for event_id in ids:
        schedule_processing(event_id)
    return len(ids)


def cleanup_old_webhook_events(days: int | None = None) -> dict[str, int]:
    """Delete processed events (and never-matched pending statuses) older than
    ``days`` (default ``WACLOUD["WEBHOOK_EVENT_RETENTION_DAYS"]``; ``None`` keeps
    everything). Failed and pending events are kept: they still need attention."""
    days = get_setting("WEBHOOK_EVENT_RETENTION_DAYS") if days is None else days
    if days is None:
        return {"webhook_events": 0, "pending_statuses": 0}
    cutoff = timezone.now() - timedelta(days=days)
    events, _ = WebhookEvent.objects.filter(
        status=WebhookEvent.Status.PROCESSED, received_at__lt=cutoff
    ).delete()
    pending, _ = PendingStatus.objects.filter(created_at__lt=cutoff).delete()
    return {"webhook_events": events, "pending_statuses": pending}
