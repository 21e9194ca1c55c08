"""A contact's rights over the automation data: confirmations, appointments and their
reminders, follow-up enrollments, daily summaries, campaign messages and help desk
sessions (docs/privacy.md). Called by ``services.privacy``.

Export: one section each in the contact's JSON document, read in chunks.

Erasure runs in two steps. :func:`stop_automation` comes first, while the number is still
known: what would still message the contact is stopped through each feature's own service
(confirmations cancelled, appointments cancelled, enrollments stopped, summaries ended,
the help desk session ended) or by the same conditional UPDATE its sender claims with
(queued campaign recipients skipped), so a beat task running meanwhile sends nothing.
:func:`redact_automation` comes after the pseudonymization: free text and parameters are
emptied and the number replaced by the pseudonym, while statuses and timestamps stay, so
analytics keep counting. Both only touch rows not done yet: a second run changes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Replace
from django.utils import timezone

from ..automation.schedule_models import Outcome
from ..helpdesk.models import HelpdeskSession
from ..models import (
    Appointment,
    AppointmentReminder,
    AuditEntry,
    CampaignRecipient,
    Confirmation,
    Contact,
    DailySummaryRun,
    DailySummarySubscription,
    FollowUpDelivery,
    FollowUpEnrollment,
)
from .retention import BATCH_SIZE, id_batches

#: Why the contact's pending work was stopped (kept in the rows' reason or error).
ERASED_REASON = "contact erased"
#: What replaces personal values in audit entries (the same as ``privacy.ERASED``).
ERASED = "<erased>"
#: The contact's rows that audit entries name (their ``__str__`` shows what they say).
_AUDITED: tuple[Any, ...] = (Confirmation, Appointment)
#: Keys of audit ``changes`` that hold what the contact's rows said.
_PERSONAL_CHANGES = {"description", "details", "payload", "error", "title", "template_parameters", "params"}

_CONFIRMATION_FIELDS = ("id", "action_type", "description", "details", "payload", "status", "timeout_minutes",
                        "requested_at", "sent_at", "expires_at", "resolved_at", "request_message_id",
                        "reply_message_id", "error")  # fmt: skip
_APPOINTMENT_FIELDS = ("id", "title", "reference", "starts_at", "timezone", "template_parameters", "status",
                       "created_at", "updated_at")  # fmt: skip
_REMINDER_FIELDS = ("interval_hours", "due_at", "status", "reason", "message_id", "processed_at")
_ENROLLMENT_FIELDS = ("id", "status", "stop_reason", "next_position", "next_due_at", "trigger", "started_at",
                      "ended_at")  # fmt: skip
_DELIVERY_FIELDS = ("status", "reason", "message_id", "created_at")
_SUBSCRIPTION_FIELDS = ("id", "local_time", "timezone", "template_name", "template_language", "is_active",
                        "next_run_at", "created_at", "updated_at")  # fmt: skip
_RUN_FIELDS = ("local_date", "status", "reason", "message_id", "created_at")
# No claim token or attempt counter: the sender's bookkeeping, nothing about the person.
_RECIPIENT_FIELDS = ("wa_id", "variant", "params", "status", "wamid", "message_id", "error_code", "error",
                     "sent_at", "updated_at")  # fmt: skip


def _row(instance: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in fields}


# -- export -------------------------------------------------------------------------------------


def _campaign_recipients(contact: Contact, number: str | None = None) -> QuerySet[CampaignRecipient]:
    """The contact's recipient rows: linked to it, or (an uploaded list) naming its number on
    one of its account's campaigns."""
    number = number or contact.wa_id  # none for a user known by business-scoped user id alone
    found = Q(contact=contact) | (Q(campaign__account_id=contact.account_id, wa_id=number) if number else Q())
    return CampaignRecipient.objects.filter(found)


def _confirmations(contact: Contact) -> Iterator[dict[str, Any]]:
    rows = Confirmation.objects.filter(contact=contact).order_by("requested_at", "pk")
    for confirmation in rows.iterator(chunk_size=BATCH_SIZE):
        yield _row(confirmation, _CONFIRMATION_FIELDS)


def _appointments(contact: Contact) -> Iterator[dict[str, Any]]:
    rows = (
        Appointment.objects.filter(contact=contact)
        .select_related("policy")
        .prefetch_related("reminders")
        .order_by("starts_at", "pk")
    )
    for appointment in rows.iterator(chunk_size=BATCH_SIZE):
        yield {
            **_row(appointment, _APPOINTMENT_FIELDS),
            "reminder_template": appointment.policy.template_name,
            "reminders": [_row(r, _REMINDER_FIELDS) for r in appointment.reminders.all()],
        }


def _enrollments(contact: Contact) -> Iterator[dict[str, Any]]:
    rows = (
        FollowUpEnrollment.objects.filter(contact=contact)
        .select_related("sequence")
        .prefetch_related("deliveries__step")
        .order_by("started_at", "pk")
    )
    for enrollment in rows.iterator(chunk_size=BATCH_SIZE):
        yield {
            **_row(enrollment, _ENROLLMENT_FIELDS),
            "sequence": enrollment.sequence.name,
            "deliveries": [
                {"step": delivery.step.position, **_row(delivery, _DELIVERY_FIELDS)}
                for delivery in enrollment.deliveries.all()
            ],
        }


def _daily_summaries(contact: Contact) -> Iterator[dict[str, Any]]:
    rows = DailySummarySubscription.objects.filter(contact=contact).prefetch_related("runs").order_by("pk")
    for subscription in rows.iterator(chunk_size=BATCH_SIZE):
        yield {
            **_row(subscription, _SUBSCRIPTION_FIELDS),
            "runs": [_row(run, _RUN_FIELDS) for run in subscription.runs.order_by("local_date", "pk")],
        }


def _campaign_messages(contact: Contact) -> Iterator[dict[str, Any]]:
    rows = _campaign_recipients(contact).select_related("campaign").order_by("pk")
    for recipient in rows.iterator(chunk_size=BATCH_SIZE):
        campaign = recipient.campaign
        yield {
            "campaign": {"id": campaign.pk, "name": campaign.name, "template": campaign.template_name},
            **_row(recipient, _RECIPIENT_FIELDS),
        }


def _helpdesk_sessions(contact: Contact) -> list[dict[str, Any]]:
    """The contact's help desk session as the configured store keeps it."""
    from ..helpdesk.services import sessions

    fields = ("ticket_number", "is_active", "started_at", "last_activity_at")
    if sessions.store() == sessions.DATABASE:
        rows = HelpdeskSession.objects.filter(contact=contact).order_by("pk")
        return [_row(session, fields) for session in rows]
    with sessions.locked_session(contact.account, contact) as session:
        return [_row(session, fields)] if session.ticket_number or session.is_active else []


def automation_sections(contact: Contact) -> dict[str, list[dict[str, Any]]]:
    """The export document's automation sections, each ordered by time."""
    return {
        "confirmations": list(_confirmations(contact)),
        "appointments": list(_appointments(contact)),
        "followup_enrollments": list(_enrollments(contact)),
        "daily_summaries": list(_daily_summaries(contact)),
        "campaign_messages": list(_campaign_messages(contact)),
        "helpdesk_sessions": _helpdesk_sessions(contact),
    }


def audit_targets(contact: Contact) -> list[tuple[str, list[str]]]:
    """(model label, ids) of the contact's automation rows that audit entries are about."""
    return [
        (
            model._meta.label,
            [str(pk) for pk in model.objects.filter(contact=contact).values_list("pk", flat=True)],
        )
        for model in _AUDITED
    ]


# -- erasure: stop ------------------------------------------------------------------------------


def stop_automation(contact: Contact, *, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Stop everything that would still message ``contact`` (its number still known)."""
    from ..automation.services import confirmations, followups, reminders, summaries

    counts = {"confirmations_cancelled": 0, "appointments_cancelled": 0, "reminders_skipped": 0}
    # Queued ones first: cancelling the pending one asks the next queued one otherwise.
    open_confirmations = Confirmation.objects.filter(contact=contact).select_related(
        "organization", "account", "contact"
    )
    for status in (Confirmation.Status.QUEUED, Confirmation.Status.PENDING):
        for confirmation in open_confirmations.filter(status=status).order_by("pk"):
            try:
                confirmations.cancel_confirmation(confirmation, reason=ERASED_REASON)
                counts["confirmations_cancelled"] += 1
            except confirmations.ConfirmationResolved:
                pass  # answered or expired meanwhile: nothing left to stop
    for appointment in Appointment.objects.filter(contact=contact, status=Appointment.Status.SCHEDULED):
        with transaction.atomic():
            reminders.cancel_appointment(appointment)
            # Cancelling turned its unsent reminders ``cancelled``; say why they never went out.
            counts["reminders_skipped"] += AppointmentReminder.objects.filter(
                appointment=appointment, status=Outcome.CANCELLED, processed_at__isnull=True
            ).update(status=Outcome.SKIPPED, reason="erased", processed_at=timezone.now())
        counts["appointments_cancelled"] += 1
    counts["followups_stopped"] = followups.stop_enrollments(contact, "erased")
    counts["summaries_ended"] = summaries.unsubscribe(contact) if _has_active_summary(contact) else 0
    counts["campaign_recipients_skipped"] = _skip_queued_recipients(contact, batch_size)
    counts["helpdesk_sessions_ended"] = _end_helpdesk_session(contact)
    return counts


def _has_active_summary(contact: Contact) -> bool:
    return DailySummarySubscription.objects.filter(contact=contact, is_active=True).exists()


def _skip_queued_recipients(contact: Contact, batch_size: int) -> int:
    """Queued recipients become ``skipped``, in batches. From ``queued`` only, like the
    sender's claim: a row claimed by a batch in flight is that batch's to record."""
    queued = _campaign_recipients(contact).filter(status=CampaignRecipient.Status.QUEUED)
    skipped = 0
    for ids in id_batches(queued, batch_size):
        skipped += CampaignRecipient.objects.filter(
            pk__in=ids, status=CampaignRecipient.Status.QUEUED
        ).update(status=CampaignRecipient.Status.SKIPPED, error=ERASED_REASON, updated_at=timezone.now())
    return skipped


def _end_helpdesk_session(contact: Contact) -> int:
    """End the contact's help desk session in the configured store, through its interface."""
    from ..helpdesk.services import sessions

    if (
        sessions.store() == sessions.DATABASE
        and not HelpdeskSession.objects.filter(
            account=contact.account, contact=contact, is_active=True
        ).exists()
    ):
        return 0  # nothing to end (and no row to make)
    with sessions.locked_session(contact.account, contact) as session:
        if not session.is_active:
            return 0
        sessions.end(session)
        return 1


# -- erasure: redact ----------------------------------------------------------------------------


def redact_automation(
    contact: Contact, number: str | None, *, batch_size: int = BATCH_SIZE
) -> dict[str, int]:
    """Empty the free text and parameters of the (pseudonymized) ``contact``'s automation
    rows; ``number`` (``None`` when an earlier run pseudonymized it already) is replaced by
    the pseudonym in the reasons that quote it."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        counts["confirmations_redacted"] = (
            Confirmation.objects.filter(contact=contact)
            .exclude(description="", details="", payload={})
            .update(description="", details="", payload={})
        )
        counts["appointments_redacted"] = (
            Appointment.objects.filter(contact=contact)
            .exclude(title="", template_parameters=[])
            .update(title="", template_parameters=[])
        )
        if number:
            _replace_number(contact, number)
        counts["automation_audit_entries_pseudonymized"] = _pseudonymize_audit_entries(contact)
    counts["campaign_recipients_redacted"] = _redact_recipients(contact, number, batch_size)
    return counts


def _replace_number(contact: Contact, number: str) -> None:
    """Reasons quote the number ("972... opted out"): the pseudonym takes its place."""
    to_pseudonym = Replace("error", Value(number), Value(contact.wa_id))
    quoting = Q(error__contains=number)
    Confirmation.objects.filter(quoting, contact=contact).update(error=to_pseudonym)
    AppointmentReminder.objects.filter(quoting, appointment__contact=contact).update(error=to_pseudonym)
    FollowUpDelivery.objects.filter(quoting, enrollment__contact=contact).update(error=to_pseudonym)
    DailySummaryRun.objects.filter(quoting, subscription__contact=contact).update(error=to_pseudonym)


def _redact_recipients(contact: Contact, number: str | None, batch_size: int) -> int:
    """Params emptied and the number replaced (in ``wa_id`` and in the reason), in batches."""
    pending = _campaign_recipients(contact, number).exclude(wa_id=contact.wa_id, params=[])
    redacted = 0
    for ids in id_batches(pending, batch_size):
        with transaction.atomic():
            # ``error`` first: it reads the number from the row's ``wa_id`` before that changes.
            redacted += CampaignRecipient.objects.filter(pk__in=ids).update(
                error=Replace("error", F("wa_id"), Value(contact.wa_id)),
                wa_id=contact.wa_id,
                params=[],
                updated_at=timezone.now(),
            )
    return redacted


def _pseudonymize_audit_entries(contact: Contact) -> int:
    """Entries about the contact's confirmations and appointments keep who did what and
    when; their description (in ``object_repr``) and personal values are replaced."""
    current = {
        model._meta.label: {str(row.pk): str(row) for row in model.objects.filter(contact=contact)}
        for model in _AUDITED
    }
    changed = 0
    for label, ids in audit_targets(contact):
        for start in range(0, len(ids), BATCH_SIZE):
            entries = AuditEntry.objects.filter(
                object_type=label, object_id__in=ids[start : start + BATCH_SIZE]
            )
            for pk, object_id, changes in entries.values_list("pk", "object_id", "changes").iterator():
                masked = {
                    name: [ERASED, ERASED] if name in _PERSONAL_CHANGES else value
                    for name, value in (changes or {}).items()
                }
                entry = AuditEntry.objects.filter(pk=pk)
                repr_ = current[label][object_id][:200]
                if masked != changes or entry.exclude(object_repr=repr_).exists():
                    changed += entry.update(object_repr=repr_, changes=masked)
    return changed


__all__ = ["ERASED_REASON", "audit_targets", "automation_sections", "redact_automation", "stop_automation"]
