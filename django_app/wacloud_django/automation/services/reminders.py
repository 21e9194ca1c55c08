"""Appointment reminders (seed 000's ``appointment_reminder`` workflow, docs/automation.md).

A :class:`ReminderPolicy` says how many hours before an appointment to remind (``[24, 2,
0.5]``) and with which template. Each appointment gets one :class:`AppointmentReminder` row
per interval with its due time; one already past when the appointment is written is
``skipped`` (reason ``past``), never sent late. Rescheduling moves the rows not sent yet;
cancelling turns them ``cancelled``.

The ``send_due_reminders`` beat task sends the due rows. Each row is claimed by a
conditional UPDATE (``pending`` -> ``sent``) in the transaction that queues its message, so
two schedulers running the task at once, or a retried task, send a reminder once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from wacloud.errors import InvalidParameter

from ...log_privacy import get_logger
from ...models import Appointment, AppointmentReminder, BusinessAccount, Contact, Organization, ReminderPolicy
from ...services import audit
from ..schedule_models import Outcome
from .scheduling import send_scheduled, zone

logger = get_logger("wacloud.automation.reminders")

#: Longest interval accepted: 60 days before the start.
MAX_INTERVAL_HOURS = 24 * 60
#: Rows a sweep sends at most (the next sweep takes the rest).
BATCH = 500
_OPEN = (Outcome.PENDING, Outcome.SKIPPED, Outcome.CANCELLED)  # a replan may still move these


# -- policies ---------------------------------------------------------------------------------------


def validate_intervals(value: Any) -> list[float]:
    """Hours before the start: a non-empty list of distinct positive numbers (largest first)."""
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidParameter(
            "reminder_intervals: give a non-empty list of hours, e.g. [24, 2, 0.5]", code=100
        )
    hours = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise InvalidParameter(f"reminder_intervals: {item!r} is not a number of hours", code=100)
        if not 0 < item <= MAX_INTERVAL_HOURS:
            raise InvalidParameter(
                f"reminder_intervals: {item} must be more than 0 and at most {MAX_INTERVAL_HOURS} hours",
                code=100,
            )
        hours.append(round(float(item), 3))
    if len(set(hours)) != len(hours):
        raise InvalidParameter("reminder_intervals: each interval once", code=100)
    return sorted(hours, reverse=True)


def create_policy(
    organization: Organization,
    data: Mapping[str, Any],
    *,
    actor: Any = None,
    account: BusinessAccount | None = None,
) -> ReminderPolicy:
    """Store an ``appointment_reminder`` workflow: ``reminder_intervals``, ``template_name``,
    optional ``language`` and ``name``."""
    template_name = str(data.get("template_name") or "").strip()
    if not template_name:
        raise InvalidParameter("template_name: required (the approved template reminders use)", code=100)
    with transaction.atomic():
        policy = ReminderPolicy.objects.create(
            organization=organization, account=account, name=str(data.get("name") or "")[:200],
            intervals=validate_intervals(data.get("reminder_intervals")), template_name=template_name,
            template_language=str(data.get("language") or "en_US"),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )  # fmt: skip
        audit.record(
            "automation.create", organization=organization, target=policy,
            changes={"type": [None, "appointment_reminder"], "intervals": [None, policy.intervals],
                     "template_name": [None, template_name]},
        )  # fmt: skip
    return policy


# -- appointments -----------------------------------------------------------------------------------

_FIELDS = ("starts_at", "timezone", "template_parameters", "policy_id", "status", "title", "reference")


def _check(organization: Organization, contact: Contact, policy: ReminderPolicy) -> None:
    if policy.organization_id != organization.pk:
        raise InvalidParameter("policy: not a reminder policy of this organization", code=100)
    if contact.account.organization_id != organization.pk:
        raise InvalidParameter("contact: not a contact of this organization", code=100)
    if policy.account_id is not None and policy.account_id != contact.account_id:
        raise InvalidParameter("policy: it is for another account than the contact's", code=100)


def schedule_appointment(
    organization: Organization,
    contact: Contact,
    starts_at: datetime,
    *,
    policy: ReminderPolicy,
    timezone_name: str = "UTC",
    template_parameters: Sequence[Any] = (),
    title: str = "",
    reference: str = "",
    actor: Any = None,
) -> Appointment:
    """Store an appointment and its reminder rows (past intervals ``skipped``)."""
    zone(timezone_name)
    _check(organization, contact, policy)
    if timezone.is_naive(starts_at):
        raise InvalidParameter("starts_at: give a time with its UTC offset", code=100)
    with transaction.atomic():
        appointment = Appointment.objects.create(
            organization=organization, contact=contact, policy=policy, starts_at=starts_at,
            timezone=timezone_name, template_parameters=[str(value) for value in template_parameters],
            title=title[:200], reference=reference[:64],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )  # fmt: skip
        _plan(appointment)
        audit.record("appointment.create", organization=organization, target=appointment,
                     changes={name: [None, _value(appointment, name)] for name in _FIELDS})  # fmt: skip
    return appointment


def update_appointment(appointment: Appointment, changes: Mapping[str, Any]) -> Appointment:
    """Reschedule (``starts_at``), change ``timezone``/``template_parameters``/``policy``/
    ``title``/``reference``, cancel or restore (``status``). Reminders not sent yet follow."""
    with transaction.atomic():
        locked = Appointment.objects.select_for_update(of=("self",)).select_related(
            "contact__account", "organization").get(pk=appointment.pk)  # fmt: skip
        before = {name: _value(locked, name) for name in _FIELDS}
        if "timezone" in changes:
            zone(changes["timezone"])
            locked.timezone = changes["timezone"]
        if "starts_at" in changes:
            if timezone.is_naive(changes["starts_at"]):
                raise InvalidParameter("starts_at: give a time with its UTC offset", code=100)
            locked.starts_at = changes["starts_at"]
        if "template_parameters" in changes:
            locked.template_parameters = [str(value) for value in changes["template_parameters"]]
        if "policy" in changes:
            _check(locked.organization, locked.contact, changes["policy"])
            locked.policy = changes["policy"]
        if "status" in changes:
            if changes["status"] not in Appointment.Status.values:
                raise InvalidParameter(f"status: one of {', '.join(Appointment.Status.values)}", code=100)
            locked.status = changes["status"]
        for name in ("title", "reference"):
            if name in changes:
                setattr(locked, name, str(changes[name])[: 200 if name == "title" else 64])
        locked.save()
        _plan(locked)
        diff = audit.changes_between(before, {name: _value(locked, name) for name in _FIELDS})
        if diff:
            action = (
                "appointment.cancel"
                if diff.get("status", [None, None])[1] == "cancelled"
                else "appointment.update"
            )
            audit.record(action, organization=locked.organization, target=locked, changes=diff)
    return locked


def cancel_appointment(appointment: Appointment) -> Appointment:
    return update_appointment(appointment, {"status": Appointment.Status.CANCELLED})


def _value(appointment: Appointment, name: str) -> Any:
    value = getattr(appointment, name)
    return value.isoformat() if isinstance(value, datetime) else value


def _plan(appointment: Appointment, now: datetime | None = None) -> None:
    """Make the reminder rows match the appointment and its policy. Rows already sent,
    refused or failed are history and stay; the others get their due time again."""
    now = now or timezone.now()
    wanted = {Decimal(str(hours)).quantize(Decimal("0.001")) for hours in appointment.policy.intervals}
    rows = {row.interval_hours: row for row in appointment.reminders.all()}
    for interval, row in rows.items():
        if interval not in wanted and row.status in _OPEN:
            row.delete()  # the policy no longer has it
    for interval in sorted(wanted, reverse=True):
        row = rows.get(interval)
        if row is not None and row.status not in _OPEN:
            continue
        due = appointment.starts_at - timedelta(hours=float(interval))
        if appointment.status == Appointment.Status.CANCELLED:
            status, reason = Outcome.CANCELLED, "cancelled"
        elif due <= now:
            status, reason = Outcome.SKIPPED, "past"
        else:
            status, reason = Outcome.PENDING, ""
        if row is None:
            AppointmentReminder.objects.create(
                appointment=appointment, interval_hours=interval, due_at=due, status=status, reason=reason
            )
        elif (row.due_at, row.status, row.reason) != (due, status, reason):
            row.due_at, row.status, row.reason = due, status, reason
            row.save(update_fields=["due_at", "status", "reason"])


# -- sending ----------------------------------------------------------------------------------------


def send_due_reminders(now: datetime | None = None) -> dict[str, int]:
    """Send every reminder due by ``now``; returns how many ended in each status."""
    now = now or timezone.now()
    due = AppointmentReminder.objects.filter(status=Outcome.PENDING, due_at__lte=now).order_by("due_at", "pk")
    counts: dict[str, int] = {}
    for reminder_id in list(due.values_list("pk", flat=True)[:BATCH]):
        try:
            outcome = send_reminder(reminder_id, now)
        except Exception:  # one broken row must not stop the others; it stays pending
            logger.exception("reminder %s could not be processed", reminder_id)
            outcome = "error"
        if outcome is not None:
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def send_reminder(reminder_id: int, now: datetime | None = None) -> str | None:
    """Send one due reminder at most once; returns its final status, or ``None`` when it was
    not ours to send (another run claimed it, or it is no longer pending)."""
    now = now or timezone.now()
    with transaction.atomic():
        # The claim: of two runs (or a retry), only one sees ``pending`` here.
        claimed = AppointmentReminder.objects.filter(
            pk=reminder_id, status=Outcome.PENDING, due_at__lte=now
        ).update(status=Outcome.SENT, processed_at=now)
        if not claimed:
            return None
        reminder = AppointmentReminder.objects.select_related(
            "appointment__policy", "appointment__contact__account").get(pk=reminder_id)  # fmt: skip
        appointment = reminder.appointment
        if appointment.status != Appointment.Status.SCHEDULED:
            reminder.status, reminder.reason = Outcome.CANCELLED, "cancelled"
        elif appointment.starts_at <= now:
            reminder.status, reminder.reason = Outcome.SKIPPED, "started"
        else:
            policy = appointment.policy
            send_scheduled(
                appointment.contact, template_name=policy.template_name,
                template_language=policy.template_language,
                template_parameters=reminder_parameters(appointment),
                reference=f"appointment-{appointment.pk}",
            ).apply(reminder)  # fmt: skip
        reminder.save(update_fields=["status", "message", "reason", "error"])
        return reminder.status


def reminder_parameters(appointment: Appointment) -> list[str]:
    """The appointment's own parameters, else seed 000's template's two: the contact's name
    and the start in the appointment's time zone ("January 15 at 2:00 PM")."""
    if appointment.template_parameters:
        return [str(value) for value in appointment.template_parameters]
    local = appointment.starts_at.astimezone(zone(appointment.timezone))
    when = f"{local:%B} {local.day} at {local.hour % 12 or 12}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"
    return [appointment.contact.name or appointment.contact.wa_id, when]


def reminders_of(appointments: Iterable[Appointment]) -> dict[int, list[AppointmentReminder]]:
    rows: dict[int, list[AppointmentReminder]] = {}
    for row in AppointmentReminder.objects.filter(appointment__in=list(appointments)).order_by("due_at"):
        rows.setdefault(row.appointment_id, []).append(row)
    return rows
