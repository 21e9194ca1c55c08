"""Daily summaries (seed 003's ``daily_summary`` template, docs/automation.md).

A contact subscribed at a local time and time zone gets one message per local day, built by
a callable of the host project: the subscription's ``builder`` (a dotted path), else
``WACLOUD["AUTOMATION"]["DAILY_SUMMARY_BUILDER"]``. It is called as
``builder(subscription, local_date)`` and returns:

- ``None``: nothing to say today (recorded ``skipped``, nothing sent);
- a string: free text (inside the 24-hour window only; outside it the run fails
  ``window_closed`` unless a dict with parameters is returned);
- a list: the body parameters of the subscription's template (``daily_summary``);
- a dict with ``text`` and/or ``parameters``: text inside the window, the template outside.

A failing builder is logged and recorded on that day's run (``failed``, ``builder_error``);
the other contacts go on. ``next_run_at`` holds the next local occurrence in UTC, recomputed
from the wall-clock time each day, so daylight saving changes keep the local time (a time
that does not exist on a spring-forward day is sent at the same offset after the jump; one
that exists twice is sent at the first). A run row per (subscription, local date) and the
conditional UPDATE of ``next_run_at`` make each day sent once, whoever runs the task."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from wacloud.errors import InvalidParameter

from ...conf import DEFAULTS, get_setting, setting_name
from ...exceptions import SettingError
from ...log_privacy import get_logger
from ...models import Contact, DailySummaryRun, DailySummarySubscription
from ..schedule_models import Outcome
from .scheduling import SendResult, send_scheduled, zone

logger = get_logger("wacloud.automation.summaries")

BATCH = 500


def next_occurrence(local_time: time, tz: ZoneInfo, after: datetime) -> datetime:
    """The first moment strictly after ``after`` whose wall clock in ``tz`` reads ``local_time``."""
    day = after.astimezone(tz).date()
    for offset in range(3):
        moment = datetime.combine(day + timedelta(days=offset), local_time, tzinfo=tz)
        if moment > after:
            return moment.astimezone(ZoneInfo("UTC"))
    raise AssertionError("unreachable: a local time recurs every day")


def subscribe(
    contact: Contact,
    local_time: time,
    timezone_name: str,
    *,
    builder: str = "",
    template_name: str = "daily_summary",
    template_language: str = "en_US",
    now: datetime | None = None,
) -> DailySummarySubscription:
    """Subscribe ``contact`` (or change their subscription); the first summary is at the next
    ``local_time``."""
    tz = zone(timezone_name)
    if builder:
        _import(builder)
    now = now or timezone.now()
    subscription, _ = DailySummarySubscription.objects.update_or_create(
        contact=contact,
        defaults={"local_time": local_time, "timezone": timezone_name, "builder": builder,
                  "template_name": template_name, "template_language": template_language, "is_active": True,
                  "next_run_at": next_occurrence(local_time, tz, now)},
    )  # fmt: skip
    return subscription


def unsubscribe(contact: Contact) -> int:
    return DailySummarySubscription.objects.filter(contact=contact).update(is_active=False)


def builder_for(subscription: DailySummarySubscription) -> Callable[..., Any]:
    path = subscription.builder or automation_setting("DAILY_SUMMARY_BUILDER")
    if not path:
        name = setting_name("AUTOMATION", "DAILY_SUMMARY_BUILDER")
        raise SettingError(
            "AUTOMATION", f"{name} is not set and subscription {subscription.pk} names no builder"
        )
    return _import(path)


def automation_setting(key: str) -> Any:
    """``WACLOUD["AUTOMATION"][key]``, read on every call."""
    configured = get_setting("AUTOMATION") or {}
    if not isinstance(configured, dict):
        raise SettingError("AUTOMATION", f"{setting_name('AUTOMATION')} must be a dict")
    return {**DEFAULTS["AUTOMATION"], **configured}.get(key)


def _import(path: str) -> Callable[..., Any]:
    try:
        found = import_string(path)
    except ImportError as error:
        raise InvalidParameter(f"builder: cannot import {path!r} ({error})", code=100) from None
    if not callable(found):
        raise InvalidParameter(f"builder: {path!r} is not callable", code=100)
    return found


# -- sending ----------------------------------------------------------------------------------------


def send_due_summaries(now: datetime | None = None) -> dict[str, int]:
    """Send every summary whose local time has come; counts per run outcome."""
    now = now or timezone.now()
    due = DailySummarySubscription.objects.filter(is_active=True, next_run_at__lte=now).order_by(
        "next_run_at"
    )
    counts: dict[str, int] = {}
    for subscription_id in list(due.values_list("pk", flat=True)[:BATCH]):
        try:
            outcome = run_summary(subscription_id, now)
        except Exception:  # one broken subscription must not stop the others
            logger.exception("daily summary %s could not run", subscription_id)
            outcome = "error"
        if outcome is not None:
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def run_summary(subscription_id: int, now: datetime | None = None) -> str | None:
    """Send one subscription's due summary, at most once per local day; the run's status, or
    ``None`` when another run took it first."""
    now = now or timezone.now()
    with transaction.atomic():
        subscription = (
            DailySummarySubscription.objects.select_related("contact__account")
            .filter(pk=subscription_id, is_active=True, next_run_at__lte=now).first()
        )  # fmt: skip
        if subscription is None:
            return None
        tz = zone(subscription.timezone)
        due = subscription.next_run_at
        local_date, today = due.astimezone(tz).date(), now.astimezone(tz).date()
        following = next_occurrence(subscription.local_time, tz, max(now, due))
        if local_date != today:
            # The task did not run that day (an outage): that day is recorded as missed, not sent
            # late; today's summary, when its time has passed too, goes on the next run.
            todays = next_occurrence(subscription.local_time, tz, now - timedelta(days=1))
            following = todays if todays.astimezone(tz).date() == today and todays > due else following
        claimed = DailySummarySubscription.objects.filter(pk=subscription.pk, next_run_at=due).update(
            next_run_at=following
        )
        if not claimed:
            return None
        run = DailySummaryRun(subscription=subscription, local_date=local_date, created_at=now)
        if local_date != today:
            run.status, run.reason = Outcome.SKIPPED, "missed"
        else:
            _build_and_send(subscription, local_date).apply(run)
        try:
            with transaction.atomic():
                run.save()
        except IntegrityError:  # this local day was already sent
            transaction.set_rollback(True)
            return None
        return run.status


def _build_and_send(subscription: DailySummarySubscription, local_date: date) -> SendResult:
    try:
        built = builder_for(subscription)(subscription, local_date)
    except Exception as error:
        logger.exception("daily summary builder failed for subscription %s", subscription.pk)
        return SendResult(Outcome.FAILED, reason="builder_error", error=repr(error)[:2000])
    if built is None:
        return SendResult(Outcome.SKIPPED, reason="nothing_to_send")
    text, parameters = "", None
    if isinstance(built, str):
        text = built
    elif isinstance(built, (list, tuple)):
        parameters = list(built)
    elif isinstance(built, dict) and (built.get("text") or built.get("parameters") is not None):
        text, parameters = str(built.get("text") or ""), built.get("parameters")
    else:
        error = f"the builder returned {type(built).__name__}: give None, str, list or dict"
        return SendResult(Outcome.FAILED, reason="bad_builder_result", error=error)
    return send_scheduled(
        subscription.contact, text=text,
        template_name=subscription.template_name if parameters is not None else "",
        template_language=subscription.template_language, template_parameters=parameters,
        reference=f"daily-summary-{local_date.isoformat()}",
    )  # fmt: skip
