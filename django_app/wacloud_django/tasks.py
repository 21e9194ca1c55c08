"""Celery tasks: each is a one-line call into a service.

Celery is optional: without it this module still imports, the functions run
when called directly, and ``.delay()`` raises a clear error (wacloud only calls
it when ``use_celery()`` is true). All tasks are idempotent, so running one twice
is harmless, and ``acks_late`` with ``reject_on_worker_lost``: a task whose child
process dies is requeued at once, but one whose whole worker is killed stays
unacknowledged in the broker until its visibility timeout (Redis: one hour
unless ``broker_transport_options["visibility_timeout"]`` says otherwise).
Beat's ``process_pending_webhook_events`` and ``retry_failed_messages`` sweeps
pick such work up sooner (docs/operations.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .conf import get_setting

try:
    from celery import shared_task
except ImportError:  # Celery is an optional dependency.
    shared_task = None


class _NoCelery:
    """Stands in for the bound task when Celery is not installed: no retries."""

    request = None


def task(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``shared_task(bind=True, acks_late=True, ...)``, or a plain function without Celery."""
    options = {"bind": True, "acks_late": True, "reject_on_worker_lost": True, **options}

    def decorate(func: Callable[..., Any]) -> Any:
        if shared_task is not None:
            return shared_task(**options)(func)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            return func(_NoCelery(), *args, **kwargs)

        def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise ImproperlyConfigured(f"{func.__name__}.delay() needs Celery: pip install 'wacloud[celery]'")

        run.delay = run.apply_async = unavailable  # type: ignore[attr-defined]
        return run

    return decorate


def _retry(self: Any, exc: Exception) -> None:
    """Raise Celery's retry (exponential backoff, ``WACLOUD["WEBHOOK_MAX_ATTEMPTS"]``
    runs in all; past that Celery raises ``exc``). Returns without Celery."""
    if isinstance(self, _NoCelery):
        return
    base = get_setting("TASK_RETRY_BACKOFF_SECONDS") or 1
    countdown = base * (2**self.request.retries)
    raise self.retry(exc=exc, countdown=countdown, max_retries=get_setting("WEBHOOK_MAX_ATTEMPTS") - 1)


@task()
def process_webhook_event(self: Any, event_id: int) -> str:
    """Process one stored webhook event; returns its resulting status."""
    from .services.inbound import process_webhook_event as process

    try:
        return process(event_id).status
    except Exception as exc:
        _retry(self, exc)
        raise


@task()
def drain_webhook_events(self: Any) -> dict[str, int]:
    """Process pending webhook events in batches (``WACLOUD["WEBHOOK_BATCH"]``) for up to
    ``TASK_SECONDS``, then queue itself again if any may be left; returns counts by status."""
    from .services.webhook_batch import batch_settings, drain

    try:
        result = drain(max_seconds=batch_settings().task_seconds)
    except Exception as exc:
        _retry(self, exc)
        raise
    if not result.finished and not isinstance(self, _NoCelery):
        drain_webhook_events.delay()
    return result.counts


@task()
def download_media(self: Any, media_file_id: int) -> str:
    """Download one inbound media file into ``WACLOUD["MEDIA_STORAGE"]``."""
    from .exceptions import AccountNotConfigured
    from .services.media import download_media_file

    try:
        return download_media_file(media_file_id).download_status
    except AccountNotConfigured:
        raise  # Retrying cannot add a token; the row says why it failed.
    except Exception as exc:
        _retry(self, exc)
        raise


@task()
def mark_message_read(self: Any, message_id: int) -> None:
    """Mark one inbound message read on Meta's side (``WACLOUD["AUTO_MARK_READ"]``)."""
    from .exceptions import AccountNotConfigured
    from .services.inbound import mark_message_read as mark_read

    try:
        mark_read(message_id)
    except AccountNotConfigured:
        raise
    except Exception as exc:
        _retry(self, exc)
        raise


@task()
def cleanup_old_webhook_events(self: Any, days: int | None = None) -> dict[str, int]:
    """Delete processed webhook events older than the retention period (run daily)."""
    from .services.webhooks import cleanup_old_webhook_events as cleanup

    return cleanup(days)


@task()
def cleanup_audit_entries(self: Any, days: int | None = None) -> int:
    """Delete audit entries older than ``WACLOUD["AUDIT_RETENTION_DAYS"]`` (run daily)."""
    from .services.audit import cleanup_audit_entries as cleanup

    return cleanup(days)


@task()
def purge_expired_data(self: Any) -> dict[str, int]:
    """Redact or delete what is past ``WACLOUD["RETENTION"]``, in bounded batches (run daily)."""
    from .services import audit
    from .services.retention import purge_expired_data as purge

    with audit.acting_as(None, source="task"):
        return purge()


@task()
def cleanup_helpdesk_sessions(self: Any) -> int:
    """Delete help desk sessions silent for longer than ``WACLOUD["HELPDESK"]["SESSION_TIMEOUT_HOURS"]``."""
    from .helpdesk.services.sessions import cleanup_expired_sessions

    return cleanup_expired_sessions()


@task()
def send_sla_warnings(self: Any) -> dict[str, int]:
    """Warn the customers of tickets due within ``WACLOUD["HELPDESK"]["SLA_WARNING_MINUTES"]``, once each."""
    from .helpdesk.services.sla import send_sla_warnings as warn
    from .services import audit

    with audit.acting_as(None, source="task"):
        return warn()


@task()
def process_pending_webhook_events(self: Any) -> int:
    """Queue events left pending, and failed ones with attempts left (run every few minutes)."""
    from .services.webhooks import process_pending_webhook_events as sweep

    return sweep()


@task()
def check_token_expiry(self: Any) -> dict[str, Any]:
    """Ask Meta about every active account's token; warn once a day for those invalid or
    expiring within ``WACLOUD["TOKEN_EXPIRY_WARNING_DAYS"]`` (run daily, or hourly)."""
    from .services.tokens import check_token_expiry as check

    return check()


# -- outbound (services/outbound.py, services/templates.py) ----------------------------------------


@task()
def send_whatsapp_message(self: Any, message_id: int | None = None, **message: Any) -> str | int:
    """Send one outbox message; returns the outcome. Sent at most once: the
    service claims the row, so a redelivered or duplicated task sends nothing.

    Also takes a message by its fields instead of a row id (the form earlier
    integrations queue): ``business_account_id`` (WABA id) or
    ``phone_number_id``, ``to`` (or ``user_id``, a business-scoped user id), ``message_type``,
    ``content`` and, as needed,
    ``media_url``, ``template_name``, ``template_language``,
    ``template_components``. The message goes into the outbox (checked as
    ``send_message`` checks it) and the id of its row is returned."""
    if message_id is None:
        from .services.recipients import queue_message

        return queue_message(**message).pk
    if message:
        raise TypeError(f"send_whatsapp_message: give message_id or the fields {sorted(message)}, not both")
    from .services.outbound import deliver_message

    result = deliver_message(message_id, can_retry=not isinstance(self, _NoCelery))
    if result.outcome == "deferred" and getattr(self.request, "is_eager", False):
        return result.outcome  # eager Celery retries at once, for ever: the sweep requeues it instead
    # Still queued: the service bounds the attempts; a deferral (open circuit) counts none.
    if result.outcome in ("retry", "deferred"):
        raise self.retry(countdown=result.retry_in, max_retries=None)
    return result.outcome


@task()
def sync_whatsapp_templates(self: Any, account_id: int | None = None) -> dict[str, dict[str, int]]:
    """Sync templates of one account (or every active account with a WABA id)."""
    from .services.templates import sync_all_templates

    return sync_all_templates(account_id)


@task()
def retry_failed_messages(self: Any) -> dict[str, int]:
    """Requeue retriable send failures and lost queued rows (never unknown deliveries)."""
    from .services.outbound import retry_failed_messages as retry

    return retry()


# -- the task names in earlier integrations' beat schedules, on the same services -------------------


@task(name="whatsapp_integration.tasks.sync_whatsapp_templates")
def legacy_sync_whatsapp_templates(self: Any, account_id: int | None = None) -> dict[str, dict[str, int]]:
    """:func:`sync_whatsapp_templates` under its ``whatsapp_integration.tasks`` name."""
    from .services.templates import sync_all_templates

    return sync_all_templates(account_id)


@task(name="whatsapp_integration.tasks.cleanup_old_webhook_events")
def legacy_cleanup_old_webhook_events(self: Any, days: int | None = None) -> dict[str, int]:
    """:func:`cleanup_old_webhook_events` under its ``whatsapp_integration.tasks`` name."""
    from .services.webhooks import cleanup_old_webhook_events as cleanup

    return cleanup(days)


@task(name="whatsapp_integration.tasks.retry_failed_messages")
def legacy_retry_failed_messages(self: Any) -> dict[str, int]:
    """:func:`retry_failed_messages` under its ``whatsapp_integration.tasks`` name."""
    from .services.outbound import retry_failed_messages as retry

    return retry()


@task()
def deliver_escalation_webhook(self: Any, escalation_id: int) -> bool:
    """POST an escalation to its support rule's webhook (bounded retries inside; failures logged)."""
    from .automation.services.support import deliver_escalation_webhook as deliver

    return deliver(escalation_id)


@task()
def expire_confirmations(self: Any) -> int:
    """Expire Y/N confirmations nobody answered in time and ask what waited behind them (run every minute)."""
    from .automation.services.confirmations import expire_due_confirmations
    from .services import audit

    with audit.acting_as(None, source="task"):
        return expire_due_confirmations()


# -- scheduled messages (automation/services/reminders.py, followups.py, summaries.py) --------------


@task()
def send_due_reminders(self: Any) -> dict[str, int]:
    """Send the appointment reminders that are due, each once (run every minute)."""
    from .automation.services.reminders import send_due_reminders as send
    from .services import audit

    with audit.acting_as(None, source="task"):
        return send()


@task()
def advance_followups(self: Any) -> dict[str, int]:
    """Send the due step of each follow-up enrollment, each once (run every minute)."""
    from .automation.services.followups import advance_due_enrollments
    from .services import audit

    with audit.acting_as(None, source="task"):
        return advance_due_enrollments()


@task()
def send_daily_summaries(self: Any) -> dict[str, int]:
    """Send the daily summaries whose local time has come, once per local day (run every minute)."""
    from .automation.services.summaries import send_due_summaries
    from .services import audit

    with audit.acting_as(None, source="task"):
        return send_due_summaries()


@task()
def run_campaign(self: Any, campaign_id: int) -> dict[str, Any]:
    """Send a campaign's batches for ``WACLOUD["CAMPAIGNS"]["TASK_SECONDS"]``, then queue itself again."""
    from .automation.services.campaign_sending import run_campaign as run
    from .conf import get_setting

    result = run(campaign_id, max_seconds=get_setting("CAMPAIGNS")["TASK_SECONDS"])
    if result.get("continue") and not isinstance(self, _NoCelery):
        run_campaign.delay(campaign_id)
    return result


@task()
def start_due_campaigns(self: Any) -> dict[str, int]:
    """Start scheduled campaigns that are due and hand silent running ones to a worker (run every minute)."""
    from .automation.services.campaigns import start_due_campaigns as start
    from .services import audit

    with audit.acting_as(None, source="task"):
        return start()


@task()
def rollup_analytics(self: Any) -> dict[str, int]:
    """Roll up the analytics of the last days (UTC) into ``DailyRollup`` (run hourly; idempotent)."""
    from .services.analytics_rollup import rollup_recent

    return rollup_recent()


@task()
def import_meta_analytics(self: Any, days: int = 7) -> dict[str, Any]:
    """Import Meta's own analytics of the last ``days`` UTC days for every active account
    (``MetaDailyFigures``; run daily: Meta revises recent days). Returns accounts, days and
    the failures by phone number id."""
    from .services.meta_analytics import import_all_recent

    return import_all_recent(days)
