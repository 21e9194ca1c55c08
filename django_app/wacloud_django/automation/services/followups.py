"""Follow-up sequences (docs/automation.md): ordered steps, each sent ``delay_seconds`` after
the previous one (the first: after the start), as free text inside the contact's 24-hour
window and as the step's template outside it.

A contact is enrolled by the sequence's trigger (their first inbound message, a tag added to
them) or through the API; at most one active enrollment per contact and sequence (a partial
unique constraint). An enrollment ends at its last step (``end``), at any inbound reply
(``reply``), or when the contact opts out (``opt_out``).

A step's condition is checked when it is due: ``always``; ``no_reply_since`` (step N, default
the previous one: the contact has not written since it was sent); ``read_no_reply`` (step N's
message was read and not answered). A step whose condition fails is ``skipped`` and the
sequence goes on. The ``advance_followups`` beat task claims each due enrollment by a
conditional UPDATE of its position, so a step is sent once even with two schedulers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, Q
from django.utils import timezone

from wacloud.errors import InvalidParameter

from ...log_privacy import get_logger
from ...models import (
    BusinessAccount,
    Contact,
    FollowUpDelivery,
    FollowUpEnrollment,
    FollowUpSequence,
    FollowUpStep,
    Message,
    Organization,
)
from ...services import audit
from ...services.outbound import ContactOptedOut
from ..schedule_models import Outcome
from .scheduling import send_scheduled

logger = get_logger("wacloud.automation.followups")

Status, Condition, Trigger = FollowUpEnrollment.Status, FollowUpStep.Condition, FollowUpSequence.Trigger
MAX_STEPS = 20
MAX_DELAY_SECONDS = 90 * 24 * 3600
BATCH = 500


# -- sequences --------------------------------------------------------------------------------------


def create_sequence(
    organization: Organization, data: Mapping[str, Any], *, account: BusinessAccount | None = None
) -> FollowUpSequence:
    """``data``: ``name``, ``trigger`` (``first_inbound``/``tag_added``/``api``), ``trigger_tag``,
    ``purpose`` and ``steps``: ``[{"delay_seconds", "text", "template_name", "template_language",
    "template_parameters", "condition", "condition_step"}, ...]`` in sending order."""
    trigger = data.get("trigger") or Trigger.API
    if trigger not in Trigger.values:
        raise InvalidParameter(f"trigger: one of {', '.join(Trigger.values)}", code=100)
    tag = str(data.get("trigger_tag") or "").strip()
    if trigger == Trigger.TAG_ADDED and not tag:
        raise InvalidParameter("trigger_tag: required with the tag_added trigger", code=100)
    purpose = data.get("purpose") or FollowUpSequence.Purpose.WHATSAPP_MESSAGING
    if purpose not in FollowUpSequence.Purpose.values:
        raise InvalidParameter(f"purpose: one of {', '.join(FollowUpSequence.Purpose.values)}", code=100)
    steps = _validated_steps(data.get("steps"))
    with transaction.atomic():
        sequence = FollowUpSequence.objects.create(
            organization=organization, account=account, name=str(data.get("name") or "")[:200] or "Follow-up",
            trigger=trigger, trigger_tag=tag[:64], purpose=purpose,
        )  # fmt: skip
        FollowUpStep.objects.bulk_create(
            FollowUpStep(sequence=sequence, position=position, **step)
            for position, step in enumerate(steps, 1)
        )
        audit.record("followup_sequence.create", organization=organization, target=sequence,
                     changes={"trigger": [None, trigger], "steps": [None, len(steps)]})  # fmt: skip
    return sequence


def _validated_steps(steps: Any) -> list[dict[str, Any]]:
    if not isinstance(steps, list) or not steps or len(steps) > MAX_STEPS:
        raise InvalidParameter(f"steps: give 1 to {MAX_STEPS} steps", code=100)
    checked = []
    for position, step in enumerate(steps, 1):
        where = f"steps[{position - 1}]"
        if not isinstance(step, Mapping):
            raise InvalidParameter(f"{where}: each step is an object", code=100)
        delay = step.get("delay_seconds")
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_SECONDS:
            raise InvalidParameter(f"{where}.delay_seconds: 0 to {MAX_DELAY_SECONDS} seconds", code=100)
        text, template = str(step.get("text") or ""), str(step.get("template_name") or "")
        if not text and not template:
            raise InvalidParameter(f"{where}: give text, template_name or both", code=100)
        condition = step.get("condition") or Condition.ALWAYS
        if condition not in Condition.values:
            raise InvalidParameter(f"{where}.condition: one of {', '.join(Condition.values)}", code=100)
        reference = step.get("condition_step")
        if condition == Condition.ALWAYS:
            reference = None
        elif reference is None:
            if position == 1:
                raise InvalidParameter(
                    f"{where}.condition: the first step has no earlier step to look at", code=100
                )
        elif isinstance(reference, bool) or not isinstance(reference, int) or not 1 <= reference < position:
            raise InvalidParameter(
                f"{where}.condition_step: the position of an earlier step (1-based)", code=100
            )
        parameters = step.get("template_parameters") or []
        if not isinstance(parameters, list):
            raise InvalidParameter(f"{where}.template_parameters: a list", code=100)
        checked.append({
            "delay_seconds": delay, "text": text, "template_name": template,
            "template_language": str(step.get("template_language") or "en_US"),
            "template_parameters": [str(value) for value in parameters], "condition": condition,
            "condition_step": reference,
        })  # fmt: skip
    return checked


# -- enrolling and stopping -------------------------------------------------------------------------


def enroll(
    sequence: FollowUpSequence, contact: Contact, *, trigger: str = "api", now: datetime | None = None
) -> tuple[FollowUpEnrollment, bool]:
    """Start ``sequence`` for ``contact``; ``(enrollment, created)``. An active enrollment is
    returned as it is. :class:`ContactOptedOut` for a contact who opted out."""
    if contact.account.organization_id != sequence.organization_id or (
        sequence.account_id is not None and sequence.account_id != contact.account_id
    ):
        raise InvalidParameter("contact: not a contact this sequence can reach", code=100)
    if not sequence.is_active:
        raise InvalidParameter(f"sequence: {sequence.name!r} is not active", code=100)
    if contact.opted_out:
        raise ContactOptedOut(f"{contact.wa_id} opted out of messages from this account", wa_id=contact.wa_id)
    now = now or timezone.now()
    first = sequence.steps.order_by("position").first()
    if first is None:
        raise InvalidParameter("sequence: it has no steps", code=100)
    try:
        with transaction.atomic():
            enrollment = FollowUpEnrollment.objects.create(
                sequence=sequence, contact=contact, trigger=trigger, started_at=now,
                next_position=first.position, next_due_at=now + timedelta(seconds=first.delay_seconds),
            )  # fmt: skip
    except IntegrityError:  # already active (the partial unique constraint)
        return FollowUpEnrollment.objects.get(sequence=sequence, contact=contact, status=Status.ACTIVE), False
    from ...services.batch_scope import note_present

    note_present("followup_enrollments", contact.pk)  # a later message of the batch stops it
    return enrollment, True


def stop_enrollments(
    contact: Contact, reason: str, *, sequences: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """End the contact's active enrollments (of ``sequences`` only, when given)."""
    rows = FollowUpEnrollment.objects.filter(contact=contact, status=Status.ACTIVE)
    if sequences is not None:
        rows = rows.filter(sequence_id__in=list(sequences))
    return rows.update(status=Status.STOPPED, stop_reason=reason[:32], ended_at=now or timezone.now(),
                       next_due_at=None)  # fmt: skip


def _sequences_for(contact: Contact, trigger: str) -> Any:
    return FollowUpSequence.objects.filter(
        Q(account__isnull=True) | Q(account_id=contact.account_id),
        organization_id=contact.account.organization_id, trigger=trigger, is_active=True,
    )  # fmt: skip


def handle_inbound(message: Message, contact: Contact) -> None:
    """A message from the contact: it stops their enrollments (an opt-out keyword as
    ``opt_out``), and a contact's first message starts the ``first_inbound`` sequences."""
    if message.direction != Message.Direction.INBOUND:
        return
    from ...services.batch_scope import known_absent, remember

    # In a batch: nothing to stop and no first-message sequence to start costs no query here.
    if known_absent("followup_enrollments", contact.pk, lambda contacts: FollowUpEnrollment.objects.filter(
        contact_id__in=contacts, status=Status.ACTIVE
    ).values_list("contact_id", flat=True)) and not remember(
        ("followup_first_inbound", contact.account_id),
        lambda: _sequences_for(contact, Trigger.FIRST_INBOUND).exists(),
    ):  # fmt: skip
        return
    # One query: the opt-out may have just been recorded, and whether this is their first message.
    earlier = Message.objects.filter(contact=contact, direction=Message.Direction.INBOUND)
    opted_out, wrote_before = (
        Contact.objects.filter(pk=contact.pk)
        .annotate(wrote_before=Exists(earlier.filter(pk__lt=message.pk)))  # stored before this one
        .values_list("opted_out", "wrote_before")
        .get()
    )
    contact.opted_out = opted_out
    stop_enrollments(contact, "opt_out" if opted_out else "reply")
    if opted_out or wrote_before:
        return
    _enroll_each(_sequences_for(contact, Trigger.FIRST_INBOUND), contact, Trigger.FIRST_INBOUND)


def handle_tags_added(contact_id: int, tags: Iterable[str]) -> None:
    """Tags newly on a contact start the ``tag_added`` sequences waiting for them."""
    contact = Contact.objects.select_related("account").filter(pk=contact_id).first()
    if contact is None or contact.opted_out:
        return
    _enroll_each(_sequences_for(contact, Trigger.TAG_ADDED).filter(trigger_tag__in=list(tags)), contact,
                 Trigger.TAG_ADDED)  # fmt: skip


def _enroll_each(sequences: Iterable[FollowUpSequence], contact: Contact, trigger: str) -> None:
    for sequence in sequences:
        try:
            enroll(sequence, contact, trigger=trigger)
        except Exception:  # one sequence's problem must not keep the contact out of the others
            logger.exception("follow-up sequence %s: contact %s not enrolled", sequence.pk, contact.pk)


def handle_consent_changed(contact: Contact, purpose: str, status: str | None) -> None:
    """Opting out of everything stops every sequence; of marketing, the marketing ones."""
    if status != "revoked":
        return
    if purpose == FollowUpSequence.Purpose.MARKETING:
        marketing = FollowUpSequence.objects.filter(purpose=FollowUpSequence.Purpose.MARKETING)
        stop_enrollments(contact, "opt_out", sequences=marketing.values_list("pk", flat=True))
    else:
        stop_enrollments(contact, "opt_out")


# -- advancing --------------------------------------------------------------------------------------


def advance_due_enrollments(now: datetime | None = None) -> dict[str, int]:
    """Run the due step of every enrollment due by ``now``; counts per step outcome."""
    now = now or timezone.now()
    due = FollowUpEnrollment.objects.filter(status=Status.ACTIVE, next_due_at__lte=now).order_by(
        "next_due_at"
    )
    counts: dict[str, int] = {}
    for enrollment_id in list(due.values_list("pk", flat=True)[:BATCH]):
        try:
            outcome = advance_enrollment(enrollment_id, now)
        except Exception:  # one broken enrollment must not stop the others
            logger.exception("follow-up enrollment %s could not advance", enrollment_id)
            outcome = "error"
        if outcome is not None:
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def advance_enrollment(enrollment_id: int, now: datetime | None = None) -> str | None:
    """Run one enrollment's due step, at most once; its outcome, or ``None`` when another run
    took it first or it is not due."""
    now = now or timezone.now()
    with transaction.atomic():
        enrollment = (
            FollowUpEnrollment.objects.select_related("sequence", "contact__account")
            .filter(pk=enrollment_id, status=Status.ACTIVE, next_due_at__lte=now).first()
        )  # fmt: skip
        if enrollment is None:
            return None
        steps = list(enrollment.sequence.steps.order_by("position"))
        step = next((step for step in steps if step.position >= enrollment.next_position), None)
        following = next(
            (later for later in steps if step is not None and later.position > step.position), None
        )
        changes: dict[str, Any] = {"status": Status.COMPLETED, "stop_reason": "end", "ended_at": now,
                                   "next_due_at": None}  # fmt: skip
        if step is not None:
            changes["next_position"] = step.position + 1
        if following is not None:
            changes = {"next_position": following.position,
                       "next_due_at": now + timedelta(seconds=following.delay_seconds)}  # fmt: skip
        # The claim: only the run that still sees this position moves it.
        claimed = FollowUpEnrollment.objects.filter(
            pk=enrollment.pk, status=Status.ACTIVE, next_position=enrollment.next_position
        ).update(**changes)
        if not claimed or step is None:
            return None
        delivery = FollowUpDelivery(enrollment=enrollment, step=step, created_at=now)
        skip = _condition_fails(enrollment, step)
        if skip:
            delivery.status, delivery.reason = Outcome.SKIPPED, skip
        else:
            send_scheduled(
                enrollment.contact, text=step.text, template_name=step.template_name,
                template_language=step.template_language, template_parameters=step.template_parameters,
                purpose=enrollment.sequence.purpose, reference=f"followup-{enrollment.pk}-{step.position}",
            ).apply(delivery)  # fmt: skip
        try:
            with transaction.atomic():
                delivery.save()
        except IntegrityError:  # this step already ran for the enrollment
            transaction.set_rollback(True)
            return None
        if delivery.status == Outcome.REFUSED:
            # Consent refused: later steps would be refused too.
            stop_enrollments(enrollment.contact, "opt_out", sequences=[enrollment.sequence_id], now=now)
        return delivery.status


def _condition_fails(enrollment: FollowUpEnrollment, step: FollowUpStep) -> str:
    """Why the step is skipped (``replied``, ``not_read``), or ``""`` to send it."""
    if step.condition == Condition.ALWAYS:
        return ""
    position = step.condition_step or step.position - 1
    earlier = (
        FollowUpDelivery.objects.filter(enrollment=enrollment, step__position=position)
        .select_related("message").first()
    )  # fmt: skip
    since = earlier.created_at if earlier is not None else enrollment.started_at
    replied = Message.objects.filter(
        contact=enrollment.contact, direction=Message.Direction.INBOUND, created_at__gt=since
    ).exists()
    if replied:
        return "replied"
    if step.condition == Condition.READ_NO_REPLY:
        message = earlier.message if earlier is not None else None
        if message is None or (message.read_at is None and message.status != Message.Status.READ):
            return "not_read"
    return ""
