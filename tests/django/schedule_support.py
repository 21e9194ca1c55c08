"""Helpers for the scheduled-message tests: one clock for Django and the sandbox, beat
tasks run at a moment with their after-commit deliveries, templates approved at the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from wacloud_test_helpers import WABA_ID

from wacloud_django.models import Template

#: Seed 000's appointment_reminder template (two body parameters).
REMINDER_BODY = "Hello {{1}}, your appointment is scheduled for {{2}}."
#: Seed 003's daily_summary template (three body parameters).
SUMMARY_BODY = "Your summary for {{1}}: {{2}} done, {{3}} coming up."


class Clock:
    """``django.utils.timezone.now`` stopped at ``now``; :meth:`travel` moves it and the
    sandbox's clock by the same amount, so both agree on 24-hour windows."""

    def __init__(self, start: datetime, sandbox: Any = None) -> None:
        self.now, self.sandbox = start, sandbox
        self._patch = mock.patch("django.utils.timezone.now", side_effect=lambda: self.now)

    def __enter__(self) -> Clock:
        self._patch.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._patch.stop()

    def travel(self, moment: datetime | None = None, **delta: float) -> datetime:
        target = moment if moment is not None else self.now + timedelta(**delta)
        if self.sandbox is not None and target > self.now:
            self.sandbox.advance_clock((target - self.now).total_seconds())
        self.now = target
        return target


def run_task(task: Any, capture: Any) -> dict[str, int]:
    """Run a beat task now and the deliveries it queued after its commit."""
    with capture(execute=True):
        return task()


def approve_template(
    sandbox: Any,
    account: Any,
    name: str = "appointment_reminder",
    body: str = REMINDER_BODY,
    *,
    language: str = "en_US",
    category: str = "UTILITY",
    examples: tuple[str, ...] = ("John", "January 15 at 2:00 PM"),
) -> Template:
    """``name`` approved at the sandbox and known (approved) in our database."""
    from wacloud_django.services.clients import client_for

    component = {"type": "BODY", "text": body, "example": {"body_text": [list(examples)]}}
    client_for(account).create_template(name, language, category, [component])
    sandbox.set_template_status(name, "APPROVED", language=language)
    return Template.objects.create(
        account=account, waba_id=WABA_ID, name=name, language=language, status="APPROVED", category=category,
        components=[{"type": "BODY", "text": body}],
    )  # fmt: skip


def template_texts(sandbox: Any, to: str, name: str | None = None) -> list[list[str]]:
    """The body parameters of each template sent to ``to`` (of ``name`` only, when given)."""
    sent = []
    for message in sandbox.sent_messages(to=to, type="template"):
        template = message["payload"]["template"]
        if name is None or template["name"] == name:
            components = template.get("components") or [{"parameters": []}]
            sent.append([parameter["text"] for parameter in components[0]["parameters"]])
    return sent


def texts(sandbox: Any, to: str) -> list[str]:
    return [message["payload"]["text"]["body"] for message in sandbox.sent_messages(to=to, type="text")]


# -- daily summary builders (named by dotted path: this module is importable) -----------------------

#: (contact wa_id, local date) of every builder call, and what the next call returns.
BUILT: list[tuple[str, Any]] = []
ANSWERS: dict[str, Any] = {}


def build_summary(subscription: Any, local_date: Any) -> Any:
    """Answers ``ANSWERS[wa_id]`` (default: the three template parameters of seed 003)."""
    BUILT.append((subscription.contact.wa_id, local_date))
    answer = ANSWERS.get(subscription.contact.wa_id, "parameters")
    if answer == "parameters":
        return [local_date.isoformat(), "3 tasks", "2 events"]
    return answer


def broken_builder(subscription: Any, local_date: Any) -> Any:
    raise RuntimeError("the summary database is down")


def without_scheduled_rows() -> None:
    """Drop what ``api_support.make_tenant`` seeds for the access tests (a policy, an
    appointment, a sequence, a subscription), so a test starts from none."""
    from wacloud_django.models import Appointment, DailySummarySubscription, FollowUpSequence, ReminderPolicy

    Appointment.objects.all().delete()
    ReminderPolicy.objects.all().delete()
    FollowUpSequence.objects.all().delete()
    DailySummarySubscription.objects.all().delete()


def in_parallel(work: Any, threads: int = 4) -> tuple[list[Any], list[Exception]]:
    """``work()`` in ``threads`` threads released at once (beat schedulers racing); their results
    and failures. Each thread closes its own database connection."""
    import threading

    from django.db import connection

    barrier, results, failures = threading.Barrier(threads), [], []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work())
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=60)
    return results, failures


def deliver_left_queued() -> None:
    """What the outbox's sweep does for rows whose inline delivery lost SQLite's lock to a
    racing thread: send the ones still queued (on PostgreSQL there are none). A row whose
    claim could not even be released (the lock again) is sent once its lease has run out, as
    the sweep would then: it was never handed to the network. That moment is given to
    ``timezone.now`` itself, which a test's :class:`Clock` may be holding still (a clock
    moved underneath it would not be seen)."""
    from django.utils import timezone

    from wacloud_django.models import Message
    from wacloud_django.services.outbound import SENDING_LEASE, deliver_message

    queued = Message.objects.filter(direction="outbound", status="queued")
    for message_id in queued.filter(sending_since__isnull=True).values_list("pk", flat=True):
        deliver_message(message_id)
    leased = queued.filter(sending_since__isnull=False, handed_off_at__isnull=True)
    for message_id, since in leased.values_list("pk", "sending_since"):
        after_lease = max(since + SENDING_LEASE, timezone.now()) + timedelta(seconds=1)
        with mock.patch("django.utils.timezone.now", return_value=after_lease):
            deliver_message(message_id)
