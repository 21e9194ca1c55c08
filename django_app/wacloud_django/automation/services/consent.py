"""Consent: an append-only history of grants and revocations per contact and purpose,
and the one check every outbound path makes before a message is stored.

The current state of a purpose is its latest record (by ``occurred_at``, then id), so
records arriving out of order (a late webhook) never rewind it. ``Contact.opted_out``
mirrors ``whatsapp_messaging`` (code that predates the history reads it).

The rules ``send_message`` applies (docs/automation.md):

- ``whatsapp_messaging`` revoked: nothing is sent, not even a template or a service reply
  (:class:`ContactOptedOut`), except the one reply confirming a keyword.
- ``marketing`` (asked for, or implied by a MARKETING template): refused when revoked; with
  ``WACLOUD["MARKETING_REQUIRES_OPT_IN"]`` also when never granted (:class:`ConsentRequired`).
- anything else (service replies, utility templates): allowed unless opted out of everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from wacloud.errors import InvalidParameter

from ... import signals
from ...conf import get_setting
from ...log_privacy import get_logger, mask_phone
from ...models import BusinessAccount, ConsentRecord, Contact, Message, Template
from ...services import audit
from ...services.outbound import ConsentRequired, ContactOptedOut
from ...services.statuses import send_signal_on_commit

logger = get_logger("wacloud.consent")

Purpose, Status, Source = ConsentRecord.Purpose, ConsentRecord.Status, ConsentRecord.Source

#: Not a purpose one consents to: the reply confirming a STOP/START keyword, the one
#: message that still goes to someone who has just opted out (inside the window only).
KEYWORD_CONFIRMATION = "keyword_confirmation"


def check_purpose(purpose: str) -> None:
    """Refuse a purpose ``send_message`` does not know (a typo must not skip the check)."""
    if purpose not in Purpose.values and purpose != KEYWORD_CONFIRMATION:
        raise InvalidParameter(f"purpose: {purpose!r} is not one of {', '.join(Purpose.values)}", code=100)


def purpose_for_template(template: Template | None, purpose: str) -> str:
    """A MARKETING template needs ``marketing`` consent whatever the caller said."""
    if template is not None and (template.category or "").upper() == "MARKETING":
        return Purpose.MARKETING
    return purpose


# -- the current state ---------------------------------------------------------------------------


def latest_record(contact: Contact, purpose: str) -> ConsentRecord | None:
    """The record that decides ``purpose`` for ``contact`` now (``None``: never recorded)."""
    return (
        ConsentRecord.objects.filter(contact=contact, purpose=purpose).order_by("-occurred_at", "-pk").first()
    )


def current_consent(contact: Contact) -> dict[str, str | None]:
    """``{purpose: "granted" | "revoked" | None}`` for every purpose."""
    return {
        purpose: (record.status if (record := latest_record(contact, purpose)) is not None else None)
        for purpose in Purpose.values
    }


# -- the check before sending --------------------------------------------------------------------


def check_may_send(account: BusinessAccount, wa_id: str, purpose: str, *, user_id: str = "") -> None:
    """Raise :class:`ConsentRequired` when the contact ``wa_id`` (or, for a user known by
    business-scoped user id, ``user_id``) of ``account`` has not the consent ``purpose``
    needs; the refusal and its reason are recorded in the audit log."""
    from ...services.contact_identity import Identity, find_contact

    contact = find_contact(account, Identity(wa_id=wa_id, user_id=user_id))
    try:
        _check(contact, wa_id or user_id, purpose)
    except ConsentRequired as refused:
        record_refusal(account, contact, refused)
        raise


def _check(contact: Contact | None, wa_id: str, purpose: str) -> None:
    if purpose == KEYWORD_CONFIRMATION:
        return
    if contact is not None and contact.opted_out:
        raise ContactOptedOut(f"{wa_id} opted out of messages from this account", wa_id=wa_id)
    if purpose != Purpose.MARKETING:
        return
    record = latest_record(contact, Purpose.MARKETING) if contact is not None else None
    if record is not None and record.status == Status.REVOKED:
        raise ConsentRequired(
            f"{wa_id} revoked marketing consent ({record.source}, {record.occurred_at:%Y-%m-%d %H:%M} UTC)",
            purpose=Purpose.MARKETING, reason="revoked", wa_id=wa_id,
        )  # fmt: skip
    if record is None and get_setting("MARKETING_REQUIRES_OPT_IN"):
        raise ConsentRequired(
            f'{wa_id} never opted in to marketing, and WACLOUD["MARKETING_REQUIRES_OPT_IN"] is on',
            purpose=Purpose.MARKETING, reason="opt_in_required", wa_id=wa_id,
        )  # fmt: skip


def record_refusal(account: BusinessAccount, contact: Contact | None, refused: ConsentRequired) -> None:
    """Keep why a message was not sent (its own transaction: the caller's send stored nothing)."""
    to = mask_phone(refused.wa_id) if refused.wa_id else "?"
    logger.info("message to %s refused: %s (%s)", to, refused.reason, refused.purpose)
    with transaction.atomic():
        audit.record(
            "message.refused", organization=account.organization, target=contact,
            changes={"to": refused.wa_id, "purpose": refused.purpose, "reason": refused.reason},
        )  # fmt: skip


# -- recording -----------------------------------------------------------------------------------


def record_consent(
    contact: Contact,
    purpose: str,
    status: str,
    *,
    source: str,
    text: str = "",
    message: Message | None = None,
    occurred_at: datetime | None = None,
    actor: Any = None,
) -> ConsentRecord:
    """Append one record (the only write path for consent) and return it.

    Locks the contact so concurrent records of one contact are applied one at a time,
    keeps ``Contact.opted_out``/``opted_in`` in step for ``whatsapp_messaging``, writes the
    audit entry, and sends ``consent_changed`` after the commit when the current state
    changed (an older record arriving late is kept in the history but changes nothing)."""
    if purpose not in Purpose.values:
        raise InvalidParameter(f"purpose: {purpose!r} is not one of {', '.join(Purpose.values)}", code=100)
    if status not in Status.values:
        raise InvalidParameter(f"status: {status!r} is not one of {', '.join(Status.values)}", code=100)
    if source not in Source.values:
        raise InvalidParameter(f"source: {source!r} is not one of {', '.join(Source.values)}", code=100)
    context = audit.current_context()
    actor = actor if actor is not None else context.actor
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        # of=("self",): the contact row only, not its account's and organization's (PostgreSQL).
        locked = (
            Contact.objects.select_for_update(of=("self",))
            .select_related("account__organization")
            .get(pk=contact.pk)
        )
        before = latest_record(locked, purpose)
        record = ConsentRecord.objects.create(
            contact=locked,
            purpose=purpose,
            status=status,
            text=text or "",
            source=source,
            message=message,
            actor=user,
            actor_label=(user.get_username() if user is not None else source)[:150],
            occurred_at=occurred_at or timezone.now(),
        )
        after = latest_record(locked, purpose)
        previous = before.status if before is not None else None
        current = after.status if after is not None else None
        if purpose == Purpose.WHATSAPP_MESSAGING and after is not None:
            _mirror_on_contact(locked, after)
        for name in ("opted_in", "opted_in_at", "opted_out", "opted_out_at"):
            setattr(contact, name, getattr(locked, name))
        audit.record(
            f"consent.{'grant' if status == Status.GRANTED else 'revoke'}",
            organization=locked.account.organization, target=record, changes={purpose: [previous, current]},
            actor=user,
        )  # fmt: skip
        if current != previous:
            send_signal_on_commit(
                signals.consent_changed,
                sender=ConsentRecord,
                contact=locked,
                purpose=purpose,
                status=current,
                previous_status=previous,
                record=record,
                source=source,
                account=locked.account,
            )
    return record


def _mirror_on_contact(contact: Contact, current: ConsentRecord) -> None:
    """``Contact``'s opt-in/opt-out fields as the current ``whatsapp_messaging`` record says."""
    if current.status == Status.REVOKED:
        changes = {"opted_out": True, "opted_out_at": current.occurred_at}
    else:
        changes = {"opted_out": False, "opted_in": True, "opted_in_at": current.occurred_at}
    if all(getattr(contact, name) == value for name, value in changes.items()):
        return
    Contact.objects.filter(pk=contact.pk).update(**changes, updated_at=timezone.now())
    for name, value in changes.items():
        setattr(contact, name, value)


def record_marketing_preference(
    contact: Contact, value: str, occurred_at: datetime, detail: str = ""
) -> ConsentRecord | None:
    """Meta's ``user_preferences`` webhook: ``stop`` revokes ``marketing``, ``resume`` grants
    it. A redelivered preference (same contact, value and time) is recorded once."""
    status = Status.REVOKED if value == "stop" else Status.GRANTED
    already = ConsentRecord.objects.filter(
        contact=contact, purpose=Purpose.MARKETING, status=status, source=Source.USER_PREFERENCES,
        occurred_at=occurred_at,
    ).exists()  # fmt: skip
    if already:
        return None
    return record_consent(
        contact,
        Purpose.MARKETING,
        status,
        source=Source.USER_PREFERENCES,
        text=detail,
        occurred_at=occurred_at,
    )


def record_opt_out(contact: Contact, opted_out: bool, text: str = "") -> ConsentRecord:
    """``opted_out`` set by a person (the contacts API, the admin): a ``whatsapp_messaging``
    record whose source is the door they used."""
    door = audit.current_context().source
    source = {"api": Source.API, "admin": Source.ADMIN}.get(door, Source.SYSTEM)
    status = Status.REVOKED if opted_out else Status.GRANTED
    return record_consent(contact, Purpose.WHATSAPP_MESSAGING, status, source=source, text=text)
