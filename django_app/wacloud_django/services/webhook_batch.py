"""Batch processing of stored webhooks (``WACLOUD["WEBHOOK_BATCH"]["ENABLED"]``).

The intake stores each body as before and processes nothing; a drainer claims up to
``SIZE`` pending events in one statement (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so
drainers running side by side take disjoint events; SQLite: one conditional UPDATE
under its write lock), parses all their bodies in one call to the C++ core and applies
them in one transaction (services/batch_apply.py). Processed once: the claim's row locks
last until the commit, and a per-event task that meets a claimed event waits and then
finds it done. A body that fails is processed again on its own, inside the same
transaction, so it is marked failed with its error and its neighbours still commit.

Drainers: a Celery task queued after the intake's commit (debounced per process) and
beat's sweep; without Celery one batch inline after the request, or
``manage.py whatsapp_process_webhooks --loop`` (``DRAIN: "command"``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from wacloud import webhook as wacloud_webhook

from .. import correlation
from ..conf import get_setting, setting_name, use_celery
from ..exceptions import SettingError
from ..log_privacy import get_logger
from ..models import WebhookEvent
from .batch_apply import applies_together, apply_together
from .batch_scope import batch_scope
from .inbound import _TRANSIENT_DB_ERRORS, process_claimed_event, signal_processing_failed, storable_body
from .live_updates import publishing_together

logger = get_logger("wacloud.webhook")

_DRAINS = ("auto", "command")
#: A batch rolled back by a deadlock or a lost connection is tried again this often in a row.
TRANSIENT_RETRIES = 3


@dataclass(frozen=True)
class BatchSettings:
    enabled: bool
    size: int
    drain: str
    debounce_seconds: float
    task_seconds: float


def _number(value: Any, *, integer: bool) -> bool:
    kinds = (int,) if integer else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool) and value > 0


def batch_settings() -> BatchSettings:
    """``WACLOUD["WEBHOOK_BATCH"]``, checked; :class:`SettingError` names the bad key."""
    conf = get_setting("WEBHOOK_BATCH")

    def fail(key: str, expected: str) -> None:
        name = setting_name("WEBHOOK_BATCH", key)
        raise SettingError("WEBHOOK_BATCH", f"{name} must be {expected}, got {conf.get(key)!r}")

    unknown = sorted(set(conf) - {"ENABLED", "SIZE", "DRAIN", "DEBOUNCE_SECONDS", "TASK_SECONDS"})
    if unknown:
        raise SettingError("WEBHOOK_BATCH", f"{setting_name('WEBHOOK_BATCH', unknown[0])} is not a known key")
    if not isinstance(conf["ENABLED"], bool):
        fail("ENABLED", "True or False")
    if not _number(conf["SIZE"], integer=True):
        fail("SIZE", "a positive integer")
    if conf["DRAIN"] not in _DRAINS:
        fail("DRAIN", " or ".join(repr(drain) for drain in _DRAINS))
    for key in ("DEBOUNCE_SECONDS", "TASK_SECONDS"):
        if not _number(conf[key], integer=False):
            fail(key, "a positive number of seconds")
    return BatchSettings(
        conf["ENABLED"],
        conf["SIZE"],
        conf["DRAIN"],
        float(conf["DEBOUNCE_SECONDS"]),
        float(conf["TASK_SECONDS"]),
    )


def setting_problems() -> list[str]:
    """What is wrong with ``WACLOUD["WEBHOOK_BATCH"]`` (for ``manage.py check``)."""
    try:
        batch_settings()
    except SettingError as error:
        return [str(error)]
    return []


def batch_enabled() -> bool:
    return batch_settings().enabled


# -- claiming --------------------------------------------------------------------------------------


def claim_events(limit: int) -> list[WebhookEvent]:
    """Mark up to ``limit`` pending events processing (oldest first) and count the attempt.
    Call inside a transaction: the claim holds until it ends, and rolls back with it."""
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    sql = (
        f"UPDATE {table} SET status = %s, attempts = attempts + 1, started_at = %s WHERE id IN ("
        f"SELECT id FROM {table} WHERE status = %s ORDER BY received_at, id LIMIT %s{{lock}}) RETURNING id"
    )
    params = [WebhookEvent.Status.PROCESSING, timezone.now(), WebhookEvent.Status.PENDING, limit]
    if connection.vendor == "postgresql":
        # Locked rows are another drainer's (or a per-event task's): skipped, not waited for.
        ids = _returned_ids(sql.format(lock=" FOR UPDATE SKIP LOCKED"), params)
    elif connection.vendor == "sqlite":
        # One statement under SQLite's single write lock: two drainers never take the same row.
        ids = _returned_ids(sql.format(lock=""), params)
    else:
        pending = WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING).order_by(
            "received_at", "pk"
        )
        skip = connection.features.has_select_for_update_skip_locked
        ids = list(pending.select_for_update(skip_locked=skip).values_list("pk", flat=True)[:limit])
        WebhookEvent.objects.filter(pk__in=ids).update(
            status=WebhookEvent.Status.PROCESSING, attempts=F("attempts") + 1, started_at=params[1]
        )
    if not ids:
        return []
    return list(
        WebhookEvent.objects.select_related("account").filter(pk__in=ids).order_by("received_at", "pk")
    )


def _returned_ids(sql: str, params: list[Any]) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# -- one batch -------------------------------------------------------------------------------------


def process_batch(limit: int | None = None) -> dict[str, int]:
    """Claim and process up to ``limit`` (default ``SIZE``) pending events in one
    transaction. Returns how many ended in each status (``{}``: none was pending).
    A deadlock or a lost connection rolls the whole batch back (the events are pending
    again) and is raised."""
    limit = limit or batch_settings().size
    failed: list[tuple[WebhookEvent, Exception]] = []
    # The receivers of the batch's signals (run by the commit) share their look-ups, and the
    # inbox's live events go out together after them.
    with publishing_together(), batch_scope(), transaction.atomic():
        events = claim_events(limit)
        if not events:
            return {}
        results = wacloud_webhook.parse_many(
            [storable_body(event.body_bytes) for event in events], return_exceptions=True
        )
        together = []
        for event, parsed in zip(events, results, strict=True):
            if applies_together(parsed):
                together.append((event, parsed))
            else:
                failed += _process_alone(event, parsed)
        if together:
            try:
                with transaction.atomic():
                    apply_together(together)
            except _TRANSIENT_DB_ERRORS:
                raise
            except Exception:
                # Which event is at fault is not known: each is processed again on its own.
                logger.exception(
                    "a batch of %s webhook events failed; processing each on its own", len(together)
                )
                for event, parsed in together:
                    failed += _process_alone(event, parsed)
    for event, error in failed:
        signal_processing_failed(event, error)
    counts = Counter(event.status for event in events)
    logger.debug("webhook batch of %s events: %s", len(events), dict(counts))
    return dict(counts)


def _process_alone(event: WebhookEvent, parsed: Any) -> list[tuple[WebhookEvent, Exception]]:
    """inbound.process_claimed_event in a savepoint; an error fails this event only."""
    with correlation.use(correlation.for_webhook_event(event)):
        try:
            with transaction.atomic():
                error = process_claimed_event(event, parsed)
        except _TRANSIENT_DB_ERRORS:
            raise
        except Exception as exc:
            error, message = exc, f"{type(exc).__name__}: {exc}"
            logger.warning("webhook event %s failed: %s", event.pk, message)
            WebhookEvent.objects.filter(pk=event.pk).update(
                status=WebhookEvent.Status.FAILED, last_error=message, processed_at=None
            )
            event.status, event.last_error, event.processed_at = WebhookEvent.Status.FAILED, message, None
    return [] if error is None else [(event, error)]


# -- draining --------------------------------------------------------------------------------------


@dataclass
class DrainResult:
    counts: dict[str, int]
    finished: bool  # False: stopped by max_seconds with events possibly left


def drain(
    *,
    max_seconds: float | None = None,
    limit: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DrainResult:
    """Process batches until one takes every pending event (or ``max_seconds`` passed, or
    ``should_stop()``). A batch rolled back by a transient database error is tried again
    (:data:`TRANSIENT_RETRIES` times in a row, then the error is raised).

    A batch that claimed fewer events than it could took every one pending: the drain ends
    there rather than claim the few stored meanwhile one tiny batch after another (each has
    the same statements to run as a full one). Each of those has a drain after it: the
    loop's next poll, or the task its intake queued."""
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    size = limit or batch_settings().size
    counts: Counter[str] = Counter()
    failures = 0
    while True:
        try:
            done = process_batch(size)
        except _TRANSIENT_DB_ERRORS as error:
            failures += 1
            if not connection.in_atomic_block:  # a lost connection is reopened for the next try
                connection.close_if_unusable_or_obsolete()
            if failures >= TRANSIENT_RETRIES:
                raise
            logger.warning("webhook batch rolled back (%s); trying again", error)
            continue
        failures = 0
        counts.update(done)
        if sum(done.values()) < size:
            return DrainResult(dict(counts), finished=True)
        if (deadline is not None and time.monotonic() >= deadline) or (should_stop and should_stop()):
            return DrainResult(dict(counts), finished=False)


def drain_forever(
    poll_seconds: float, should_stop: Callable[[], bool], limit: int | None = None
) -> Counter[str]:
    """``whatsapp_process_webhooks --loop``: drain, then look again every ``poll_seconds``."""
    counts: Counter[str] = Counter()
    while not should_stop():
        try:
            counts.update(drain(limit=limit, should_stop=should_stop).counts)
        except _TRANSIENT_DB_ERRORS:
            logger.exception("webhook batches failed; trying again in %s s", poll_seconds)
        idle_until = time.monotonic() + poll_seconds
        while time.monotonic() < idle_until and not should_stop():
            time.sleep(min(0.05, poll_seconds))
    return counts


# -- triggering a drain ----------------------------------------------------------------------------

_debounce_lock = threading.Lock()
_window_ends = float("-inf")
_trailing_queued = False


def trigger_drain() -> None:
    """After an intake stored an event (batch mode). Never raises: the event is stored,
    and a later drain or the sweep takes it."""
    conf = batch_settings()
    if conf.drain == "command":
        return
    try:
        if use_celery():
            _queue_debounced(conf.debounce_seconds)
            return
    except Exception:
        logger.exception("could not queue a webhook drain; the events stay pending")
        return
    try:
        process_batch(conf.size)  # inline: this request's event is among the oldest pending
    except Exception:
        logger.exception("webhook batch failed inline; a later request or the sweep takes it")


def trigger_drain_on_commit() -> None:
    transaction.on_commit(trigger_drain)


def _queue_debounced(debounce: float) -> None:
    """At most two drain tasks per process and ``debounce`` seconds: one at once, and one
    at the window's end for events stored meanwhile (a task takes the events pending when it
    claims, so every event has a task that starts after its commit)."""
    global _window_ends, _trailing_queued
    now = time.monotonic()
    with _debounce_lock:
        if now >= _window_ends:
            _window_ends, _trailing_queued, countdown = now + debounce, False, None
        elif not _trailing_queued:
            _trailing_queued, countdown = True, _window_ends - now
        else:
            return
    from ..tasks import drain_webhook_events

    if countdown is None:
        drain_webhook_events.delay()
    else:
        drain_webhook_events.apply_async(countdown=countdown)


def sweep_pending() -> None:
    """The sweep found events left pending (batch mode): a drain task, or one batch here
    (without Celery the sweep runs after a webhook request: it stays short)."""
    if use_celery():
        from ..tasks import drain_webhook_events

        drain_webhook_events.delay()
    else:
        process_batch()
