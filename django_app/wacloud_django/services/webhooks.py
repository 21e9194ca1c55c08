"""Raw webhook events: store once, hand to processing, reprocess, expire."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import correlation
from ..conf import get_setting, use_celery
from ..log_privacy import get_logger
from ..models import BusinessAccount, PendingStatus, WebhookEvent
from .retention import delete_in_batches, expired_webhook_events
from .rows import insert_or_get_now

logger = get_logger("wacloud.webhook")

#: Request headers kept with each event (for audits and re-verification).
KEPT_HEADERS = (
    "Content-Type", "Content-Length", "User-Agent", "X-Hub-Signature-256", "X-Forwarded-For", "X-Request-Id",
)  # fmt: skip


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
        "retriable": not error,
    }
    # A new body is the common case: INSERT first, look up only on the unique conflict, so
    # two identical deliveries racing on PostgreSQL still end with one row.
    return insert_or_get_now(WebhookEvent, defaults, body_sha256=body_sha256(body))


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
    """After the commit: the event's own processing, or (batch mode) a drain of pending events."""
    from .webhook_batch import batch_enabled, trigger_drain

    if batch_enabled():
        transaction.on_commit(correlation.bind(trigger_drain))
        return
    transaction.on_commit(correlation.bind(lambda: schedule_processing(event_id)))


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


def unfinished_events(older_than: timedelta = timedelta(0)) -> QuerySet[WebhookEvent]:
    """Events that still need processing: pending ones, and failed ones a retry can help
    (not a body the parser refused), received more than ``older_than`` ago."""
    return WebhookEvent.objects.filter(
        Q(status=WebhookEvent.Status.PENDING) | Q(status=WebhookEvent.Status.FAILED, retriable=True),
        received_at__lt=timezone.now() - older_than,
    )


def requeue_if_unfinished(event: WebhookEvent) -> bool:
    """A redelivery of a stored body: queue it again when it is still pending or
    failed-and-retriable (its first task may have died with a worker or a broker)."""
    unfinished = event.status == WebhookEvent.Status.PENDING or (
        event.status == WebhookEvent.Status.FAILED and event.retriable
    )
    if event.status == WebhookEvent.Status.PENDING:
        schedule_processing_on_commit(event.pk)
    elif unfinished:  # batches take pending events only: a failed one is retried on its own
        transaction.on_commit(correlation.bind(lambda: schedule_processing(event.pk)))
    return unfinished


def process_pending_webhook_events(
    older_than: timedelta = timedelta(minutes=5),
    limit: int = 500,
    *,
    include_failed: bool = True,
    max_attempts: int | None = None,
) -> int:
    """Schedule events left unfinished: a broker that was down, a worker that died
    mid-processing (its transaction rolled back, so the event is still pending), or a
    failure a retry can fix. Returns how many were scheduled. Celery beat runs it
    every few minutes (docs/commands.md); without Celery, ``whatsapp_process_pending``
    and the sweep after webhook requests (:func:`sweep_after_inline_request`) do."""
    events = unfinished_events(older_than)
    if not include_failed:
        events = events.filter(status=WebhookEvent.Status.PENDING)
    # Failed events are retried until they used up their attempts (0: no limit).
    max_attempts = get_setting("WEBHOOK_MAX_ATTEMPTS") if max_attempts is None else max_attempts
    if max_attempts:
        events = events.filter(Q(status=WebhookEvent.Status.PENDING) | Q(attempts__lt=max_attempts))
    rows = list(events.order_by("received_at").values_list("pk", "status")[:limit])
    from .webhook_batch import batch_enabled, sweep_pending

    batched = batch_enabled()
    if batched and any(status == WebhookEvent.Status.PENDING for _, status in rows):
        sweep_pending()  # one drain takes every pending event, in batches
    for event_id, status in rows:
        if not (batched and status == WebhookEvent.Status.PENDING):
            schedule_processing(event_id)
    return len(rows)


def finish_unfinished_events(
    *,
    older_than: timedelta = timedelta(0),
    limit: int | None = None,
    include_failed: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Process now, in this process, the events still pending (and, with
    ``include_failed``, the failed ones a retry can help), oldest first. Returns
    counts by resulting status. ``whatsapp_process_pending`` runs it; it needs no Celery."""
    events = unfinished_events(older_than)
    if not include_failed:
        events = events.filter(status=WebhookEvent.Status.PENDING)
    ids = list(events.order_by("received_at").values_list("pk", flat=True))
    ids = ids[:limit] if limit is not None else ids
    counts: dict[str, int] = {}
    from .inbound import process_webhook_event

    for done, event_id in enumerate(ids, start=1):
        try:
            status = process_webhook_event(event_id).status
        except Exception:
            logger.exception("webhook event %s failed again", event_id)
            status = WebhookEvent.Status.FAILED
        counts[status] = counts.get(status, 0) + 1
        if progress is not None:
            progress(done, len(ids))
    return counts


#: Inline setups (no Celery) sweep after a webhook request at most this often per process.
INLINE_SWEEP_INTERVAL_SECONDS = 60.0
#: ... taking at most this many events, so the request that sweeps stays short.
INLINE_SWEEP_LIMIT = 20
#: ... and only events older than this (younger ones are being processed right now).
INLINE_SWEEP_AGE = timedelta(minutes=2)
_last_inline_sweep = float("-inf")


def sweep_after_inline_request() -> None:
    """Without Celery nothing runs a periodic sweep, so every minute or so a webhook
    request finishes a few events left pending (a process killed mid-request) after
    its own commit. With Celery this does nothing: beat runs the sweep task."""
    global _last_inline_sweep
    if use_celery():
        return
    now = time.monotonic()
    if now - _last_inline_sweep < INLINE_SWEEP_INTERVAL_SECONDS:
        return
    _last_inline_sweep = now
    transaction.on_commit(
        lambda: process_pending_webhook_events(older_than=INLINE_SWEEP_AGE, limit=INLINE_SWEEP_LIMIT)
    )


def cleanup_old_webhook_events(days: int | None = None) -> dict[str, int]:
    """Delete processed events (and never-matched pending statuses) older than
    ``days`` (default ``WACLOUD["WEBHOOK_EVENT_RETENTION_DAYS"]``; ``None`` keeps
    everything), in bounded batches. Failed and pending events are kept: they still
    need attention. ``purge_expired_data`` does this and the other retention periods."""
    days = get_setting("WEBHOOK_EVENT_RETENTION_DAYS") if days is None else days
    if days is None:
        return {"webhook_events": 0, "pending_statuses": 0}
    cutoff = timezone.now() - timedelta(days=days)
    return {
        "webhook_events": delete_in_batches(expired_webhook_events(Q(received_at__lt=cutoff))),
        "pending_statuses": delete_in_batches(PendingStatus.objects.filter(created_at__lt=cutoff)),
    }
