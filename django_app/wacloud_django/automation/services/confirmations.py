"""Y/N confirmations (seed 003, docs/automation.md "Confirmations"): ask a contact to
confirm an action, and resolve the question from their reply.

- :func:`request_confirmation` stores the question and sends it through ``send_message``
  (which checks consent): inside the 24-hour window as interactive reply buttons whose ids
  carry the confirmation's id, outside it as the ``confirmation_request`` template. With
  ``ONE_PENDING_PER_CONTACT`` (the default) a contact is asked one thing at a time: a newer
  request is stored ``queued`` and sent when the current one is resolved or expires.
- :func:`apply_reply` runs in inbound processing right after the consent keywords and before
  ``message_received``: a button tap (by id) or a whole-message Y/N/CANCEL word resolves the
  contact's pending confirmation; such a reply is then no business of the support rules or
  the help desk. A reply that resolves nothing falls through to them.
- CANCEL (and STOP) cancels the confirmation and opts the contact out. The consent keywords
  own the opt-out: when the word is one of theirs they have recorded it and sent the
  "unsubscribed" reply already; otherwise (a Cancel button, a cancel word that is not a
  consent keyword) this module records it the same way and sends the same reply.
- :func:`expire_due_confirmations` (Celery beat) expires what nobody answered in time; a
  reply arriving after ``expires_at`` expires it too, and falls through.

Every status change is a conditional UPDATE from ``pending``/``queued``, so a redelivered
webhook or two workers never resolve a confirmation twice; each outcome is audited and
sends ``confirmation_resolved`` once, after the commit.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from wacloud.errors import InvalidParameter, WacloudError

from ... import signals
from ...exceptions import SettingError
from ...log_privacy import get_logger
from ...models import (
    SERVICE_WINDOW,
    BusinessAccount,
    Confirmation,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
)
from ...services import audit
from ...services.statuses import send_signal_on_commit
from . import confirmation_replies as replies
from . import consent, consent_keywords

logger = get_logger("wacloud.automation.confirmations")

Status = Confirmation.Status
_OUTCOME_STATUS = {
    replies.CONFIRMED: Status.CONFIRMED,
    replies.DECLINED: Status.DECLINED,
    replies.CANCELLED: Status.CANCELLED,
}
_LIMITS = {"action_type": 100, "description": 500, "details": 500}


class ConfirmationResolved(WacloudError, ValueError):
    """The confirmation is resolved already (or expired): it cannot be cancelled any more."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


# -- asking ----------------------------------------------------------------------------------------


def contact_for_recipient(account: BusinessAccount, recipient: str) -> Contact:
    """The contact a number names (``WACLOUD["DEFAULT_COUNTRY_CODE"]`` applies), made if new."""
    from ...services.outbound import normalize_recipient

    wa_id = normalize_recipient(recipient)
    contact, _ = Contact.objects.get_or_create(account=account, wa_id=wa_id)
    return contact


def request_confirmation(
    contact: Contact,
    action_type: str,
    description: str,
    details: str = "",
    timeout_minutes: int | None = None,
    payload: dict[str, Any] | None = None,
    account: BusinessAccount | None = None,
    requested_by: Any = None,
) -> Confirmation:
    """Store a confirmation and ask it now (``pending``), or after the contact's current one
    (``queued``). Raises before storing anything: :class:`wacloud.InvalidParameter` (a field),
    ``ContactOptedOut`` and what ``send_message`` raises (a template that is not approved, an
    account without a token); the confirmation and its message are one transaction."""
    settings = replies.config()
    account = account or contact.account
    if account.pk != contact.account_id:
        raise InvalidParameter("contact: belongs to another account than the one given", code=100)
    fields = _checked_fields(action_type, description, details, payload)
    timeout = _checked_timeout(timeout_minutes, settings)
    consent.check_may_send(account, contact.wa_id, consent.Purpose.WHATSAPP_MESSAGING)
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    with transaction.atomic():
        locked = _lock(contact)
        waiting = settings["ONE_PENDING_PER_CONTACT"] and (
            Confirmation.objects.filter(contact=locked, status__in=[Status.PENDING, Status.QUEUED]).exists()
        )
        confirmation = Confirmation.objects.create(
            organization_id=account.organization_id, account=account, contact=locked,
            status=Status.QUEUED if waiting else Status.PENDING, timeout_minutes=timeout,
            requested_by=user, **fields,
        )  # fmt: skip
        audit.record(
            "confirmation.request", organization=account.organization, target=confirmation,
            changes={"action_type": fields["action_type"], "status": confirmation.status}, actor=user,
        )  # fmt: skip
        if not waiting:
            _ask(confirmation, locked)
    return confirmation


def _checked_fields(action_type: Any, description: Any, details: Any, payload: Any) -> dict[str, Any]:
    values = {"action_type": action_type, "description": description, "details": details or ""}
    for name, value in values.items():
        if not isinstance(value, str):
            raise InvalidParameter(f"{name}: must be a text, got {type(value).__name__}", code=100)
        values[name] = value.strip()
        if len(values[name]) > _LIMITS[name]:
            raise InvalidParameter(f"{name}: at most {_LIMITS[name]} characters", code=100)
    for name in ("action_type", "description"):
        if not values[name]:
            raise InvalidParameter(f"{name}: required", code=100)
    payload = {} if payload is None else payload
    if not isinstance(payload, dict):
        raise InvalidParameter(f"payload: must be an object, got {type(payload).__name__}", code=100)
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as error:
        raise InvalidParameter(f"payload: must be JSON ({error})", code=100) from None
    return {**values, "payload": payload}


def _checked_timeout(value: Any, settings: dict[str, Any]) -> int:
    if value is None:
        return int(settings["DEFAULT_TIMEOUT_MINUTES"])
    limit = int(settings["MAX_TIMEOUT_MINUTES"])
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
        raise InvalidParameter(f"timeout_minutes: a whole number from 1 to {limit}, got {value!r}", code=100)
    return value


def _lock(contact: Contact) -> Contact:
    """The contact's row, locked: its confirmations are asked and promoted one at a time."""
    return Contact.objects.select_for_update(of=("self",)).select_related("account").get(pk=contact.pk)


def window_open(contact: Contact, now: datetime | None = None) -> bool:
    """Whether free-form messages (the buttons) may go to ``contact`` now."""
    now = now or timezone.now()
    if contact.last_inbound_at is not None and now < contact.last_inbound_at + SERVICE_WINDOW:
        return True
    return Conversation.objects.filter(
        contact=contact, status=Conversation.Status.OPEN, service_window_expires_at__gt=now
    ).exists()


def _ask(confirmation: Confirmation, contact: Contact) -> None:
    """Send the question and start the timeout (the caller holds the contact's lock)."""
    from ...services.contact_identity import recipient_of
    from ...services.outbound import send_message

    texts = replies.texts()
    reference = f"confirmation-{confirmation.pk}"
    if window_open(contact):
        body = texts["body"].format(description=confirmation.description, details=confirmation.details)
        if confirmation.details:
            body += "\n\n" + texts["details"].format(details=confirmation.details)
        buttons = [
            {"id": replies.button_id(confirmation.pk, outcome), "title": texts[f"button.{outcome}"]}
            for outcome in (replies.CONFIRMED, replies.DECLINED, replies.CANCELLED)
        ]
        content = {"body": body, "buttons": buttons, "footer": texts["footer"] or None}
        to = recipient_of(contact)  # the number, else the business-scoped user id
        message = send_message(confirmation.account, to, "buttons", content, reference=reference)
    else:
        settings = replies.config()
        values = {
            "contact_name": contact.name or texts["contact_name"],
            "description": confirmation.description,
            "details": confirmation.details or texts["no_details"],
            "action_type": confirmation.action_type,
        }
        # Meta refuses template parameters with new lines, tabs or runs of spaces.
        parameters = [
            {"type": "text", "text": " ".join(values[name].split())}
            for name in settings["TEMPLATE_PARAMETERS"]
        ]
        message = send_message(
            confirmation.account, recipient_of(contact), "template", template_name=settings["TEMPLATE_NAME"],
            template_language=settings["TEMPLATE_LANGUAGE"],
            template_components=[{"type": "body", "parameters": parameters}] if parameters else None,
            reference=reference,
        )  # fmt: skip
    now = timezone.now()
    confirmation.status = Status.PENDING
    confirmation.request_message = message
    confirmation.sent_at = now
    confirmation.expires_at = now + timedelta(minutes=confirmation.timeout_minutes)
    confirmation.save(update_fields=["status", "request_message", "sent_at", "expires_at"])


def _send_next(contact: Contact) -> Confirmation | None:
    """Ask the contact's oldest queued confirmation, unless one is pending. One that cannot
    be sent (the contact opted out, the template was paused) is cancelled with the reason,
    and the next one is tried: a bad request never blocks those behind it."""
    with transaction.atomic():
        locked = _lock(contact)
        if Confirmation.objects.filter(contact=locked, status=Status.PENDING).exists():
            return None
        # Locked too: a cancel through the API waits, then finds the row pending and cancels it.
        queue = Confirmation.objects.select_for_update().filter(contact=locked, status=Status.QUEUED)
        for queued in queue.order_by("requested_at", "pk"):
            try:
                with transaction.atomic():
                    _ask(queued, locked)
                return queued
            except (WacloudError, ValueError) as error:
                logger.info("confirmation %s could not be asked: %s", queued.pk, error)
                _resolve(queued, Status.CANCELLED, from_statuses=[Status.QUEUED], error=str(error)[:2000])
    return None


# -- resolving -------------------------------------------------------------------------------------


def _resolve(
    confirmation: Confirmation,
    status: str,
    *,
    from_statuses: list[str],
    reply: Message | None = None,
    error: str = "",
    actor: Any = None,
) -> bool:
    """Move ``confirmation`` to the final ``status`` if it still is in ``from_statuses`` (one
    conditional UPDATE: only one caller ever wins); audit it and send the signal on commit."""
    now = timezone.now()
    changes: dict[str, Any] = {"status": status, "resolved_at": now, "reply_message": reply}
    if error:
        changes["error"] = error
    with transaction.atomic():
        won = Confirmation.objects.filter(pk=confirmation.pk, status__in=from_statuses).update(**changes)
        if not won:
            return False
        previous = confirmation.status
        for name, value in changes.items():
            setattr(confirmation, name, value)
        audit.record(
            f"confirmation.{status}", organization=confirmation.organization, target=confirmation,
            changes={"status": [previous, status], **({"error": error} if error else {})},
            actor=actor,
        )  # fmt: skip
        send_signal_on_commit(
            signals.confirmation_resolved, sender=Confirmation, confirmation=confirmation, status=status,
            payload=confirmation.payload, message=reply, contact=confirmation.contact,
            account=confirmation.account,
        )  # fmt: skip
    return True


def _read_reply(message: Message) -> tuple[str, int | None, str] | None:
    """``(outcome, confirmation id or None, language)`` the message answers, else ``None``."""
    content = message.content or {}
    if message.type == "interactive":
        interactive = content.get("interactive") or {}
        found = replies.parse_button_id(interactive.get("id"))
        return (found[1], found[0], replies.FALLBACK_LANGUAGE) if found else None
    if message.type == "button":  # a quick-reply button of a template
        found = replies.parse_button_id((content.get("button") or {}).get("payload"))
        if found:
            return found[1], found[0], replies.FALLBACK_LANGUAGE
    elif message.type != "text":
        return None
    matched = replies.match_reply(message.text)
    return (matched[0], None, matched[1]) if matched else None


def apply_reply(message: Message, contact: Contact) -> Confirmation | None:
    """Resolve the confirmation ``message`` answers; ``None``: it answers none (the message
    falls through to the rest of the automation). Called by inbound processing once per
    stored message, inside its transaction."""
    if message.direction != Message.Direction.INBOUND:
        return None
    try:
        read = _read_reply(message)
    except SettingError:
        # Reported by manage.py check (wacloud.E060); the message is stored and goes on as any other.
        logger.exception("message %s not read as a confirmation reply", message.pk)
        return None
    if read is None:
        return None
    outcome, confirmation_id, language = read
    pending = Confirmation.objects.filter(contact=contact, status=Status.PENDING).select_related(
        "organization", "account", "contact"
    )
    if confirmation_id is not None:
        pending = pending.filter(pk=confirmation_id)
    # Several pending (ONE_PENDING_PER_CONTACT off): a typed word answers the latest question.
    confirmation = pending.order_by("-sent_at", "-pk").first()
    if confirmation is None:
        return None
    if confirmation.expires_at is not None and confirmation.expires_at <= timezone.now():
        if _resolve(confirmation, Status.EXPIRED, from_statuses=[Status.PENDING]):
            _send_next(contact)
        return None
    status = _OUTCOME_STATUS[outcome]
    if not _resolve(confirmation, status, from_statuses=[Status.PENDING], reply=message):
        return None
    if status == Status.CANCELLED:
        _opt_out(message, contact, language)
        # The contact asked to stop: what waits behind is not sent (it could not be anyway).
        for queued in Confirmation.objects.filter(contact=contact, status=Status.QUEUED).select_related(
            "organization", "account", "contact"
        ):
            _resolve(queued, Status.CANCELLED, from_statuses=[Status.QUEUED], error="the contact opted out")
    else:
        _send_next(contact)
    return confirmation


def _opt_out(message: Message, contact: Contact, language: str) -> None:
    """CANCEL opts out. When the consent keywords already recorded this message (STOP, CANCEL
    are theirs by default), they also sent the reply: nothing more to do."""
    if ConsentRecord.objects.filter(message=message).exists():
        return
    consent.record_consent(
        contact, consent.Purpose.WHATSAPP_MESSAGING, ConsentRecord.Status.REVOKED,
        source=ConsentRecord.Source.KEYWORD, text=message.text, message=message,
        occurred_at=message.timestamp,
    )  # fmt: skip
    text = consent_keywords.confirmation_text(consent_keywords.REVOKE, language)
    if not text:
        return
    from ...services.contact_identity import recipient_of
    from ...services.outbound import send_message

    try:
        send_message(
            contact.account, recipient_of(contact), "text", text, purpose=consent.KEYWORD_CONFIRMATION,
            reference="consent-confirmation",
        )  # fmt: skip
    except (WacloudError, ValueError) as error:
        logger.warning("opt-out confirmation to contact %s not sent: %s", contact.pk, error)


def resolved_by(message: Message) -> bool:
    """Whether ``message`` answered a confirmation (other automation leaves it alone)."""
    return Confirmation.objects.filter(reply_message=message).exists()


# -- cancelling and expiring -------------------------------------------------------------------------


def cancel_confirmation(confirmation: Confirmation, actor: Any = None, *, reason: str = "") -> Confirmation:
    """Withdraw a pending or queued confirmation (the contact is not messaged, and not
    opted out); the next queued one is then asked. ``reason`` is kept in ``error``.
    Raises :class:`ConfirmationResolved`."""
    was_pending = confirmation.status == Status.PENDING
    if not _resolve(
        confirmation,
        Status.CANCELLED,
        from_statuses=[Status.PENDING, Status.QUEUED],
        error=reason,
        actor=actor,
    ):
        confirmation.refresh_from_db()
        raise ConfirmationResolved(
            f"confirmation {confirmation.pk} is {confirmation.status} already", confirmation.status
        )
    if was_pending:
        _send_next(confirmation.contact)
    return confirmation


def expire_due_confirmations(now: datetime | None = None, limit: int = 500) -> int:
    """Expire pending confirmations past ``expires_at`` and ask what was queued behind them;
    returns how many expired. Each in its own transaction: one failure never blocks the rest."""
    now = now or timezone.now()
    due = Confirmation.objects.filter(status=Status.PENDING, expires_at__lte=now).select_related(
        "organization", "account", "contact"
    )
    expired = 0
    for confirmation in due.order_by("expires_at", "pk")[:limit]:
        try:
            with transaction.atomic():
                if _resolve(confirmation, Status.EXPIRED, from_statuses=[Status.PENDING]):
                    expired += 1
                    _send_next(confirmation.contact)
        except Exception:
            logger.exception("confirmation %s could not be expired", confirmation.pk)
    return expired
