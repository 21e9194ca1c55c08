"""The built-in backend's tickets: the only code that writes ``Ticket``/``TicketComment``
(the intake through the backend, the REST API, agent replies of ``POST send``). Each write
records its audit entry in its own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from wacloud import BusinessScopedUser
from wacloud.errors import WacloudError

from ...models import BusinessAccount, Contact, MediaFile, Message, Organization
from ...services import audit
from .. import config
from ..models import Ticket, TicketComment

#: Fields ``update_ticket`` may change (the REST API's PATCH).
UPDATABLE = ("status", "priority", "assignee")
_NUMBER_ATTEMPTS = 20


def find_ticket(organization: Organization, number: Any) -> Ticket | None:
    """``organization``'s ticket ``number`` (``None``: none, or not a number)."""
    text = str(number).strip().lstrip("#")
    if not (text.isascii() and text.isdigit()):
        return None
    return Ticket.objects.filter(organization=organization, number=int(text)).first()


def _sla_due(priority: str, start: datetime) -> datetime | None:
    allowed = config.sla_for(priority)
    return start + allowed if allowed is not None else None


def open_ticket(account: BusinessAccount, contact: Contact, message: Message | None) -> Ticket:
    """A new ticket numbered next in the account's organization, with ``message`` as its first
    comment. Two tickets opened at once in one organization: the unique number makes one retry."""
    organization = account.organization
    now = timezone.now()
    subject = ((message.text if message is not None else "") or "").strip().splitlines()
    for attempt in range(_NUMBER_ATTEMPTS):
        try:
            with transaction.atomic():
                last = Ticket.objects.filter(organization=organization).aggregate(n=Max("number"))["n"]
                ticket = Ticket.objects.create(
                    organization=organization, account=account, contact=contact, number=(last or 0) + 1,
                    subject=(subject[0] if subject else "")[:200], message=message, created_at=now,
                    sla_due_at=_sla_due(Ticket.Priority.NORMAL, now),
                )  # fmt: skip
                if message is not None:
                    add_comment(ticket, text=message.text, message=message, attachment=attachment_of(message))
                changes = {"number": [None, ticket.number], "contact": [None, contact.wa_id]}
                audit.record("ticket.create", organization=organization, target=ticket, changes=changes)
                return ticket
        except IntegrityError:
            if attempt == _NUMBER_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def attachment_of(message: Message | None) -> MediaFile | None:
    if message is None:
        return None
    return MediaFile.objects.filter(message=message).order_by("pk").first()


def add_comment(
    ticket: Ticket,
    *,
    text: str,
    message: Message | None = None,
    attachment: MediaFile | None = None,
    author: str = TicketComment.Author.CUSTOMER,
    user: Any = None,
) -> TicketComment:
    """Append to the thread. A message already on the thread (a redelivery) is not added twice."""
    if message is not None:
        existing = TicketComment.objects.filter(ticket=ticket, message=message).first()
        if existing is not None:
            return existing
    comment = TicketComment.objects.create(
        ticket=ticket, author=author, user=user if getattr(user, "is_authenticated", False) else None,
        text=text or "", message=message, attachment=attachment,
    )  # fmt: skip
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())
    return comment


def update_ticket(
    ticket: Ticket, changes: dict[str, Any], *, actor: Any = None, notify: bool = True
) -> Ticket:
    """Change ``status``, ``priority`` and/or ``assignee`` (a user or ``None``), audited. With
    ``notify`` the customer hears of a new status or assignee after the commit
    (``services/notifications.py``)."""
    from .notifications import changes_to_notify, schedule

    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        before = audit.snapshot(locked, [*changes, "sla_due_at"])
        was = {"status": locked.status, "assignee_id": locked.assignee_id}
        for name, value in changes.items():
            setattr(locked, name, value)
        if "priority" in changes:
            locked.sla_due_at = _sla_due(locked.priority, locked.created_at)
        if "status" in changes:
            closing = locked.status in (Ticket.Status.CLOSED, Ticket.Status.RESOLVED)
            locked.closed_at = (locked.closed_at or timezone.now()) if closing else None
        locked.save()
        after = audit.snapshot(locked, [*changes, "sla_due_at"])
        audit.record("ticket.update", organization=locked.organization, target=locked,
                     changes=audit.changes_between(before, after), actor=actor)  # fmt: skip
        if notify:
            schedule(locked, changes_to_notify(was, locked))
    return locked


class TicketRecipientMismatch(WacloudError, ValueError):
    """``POST send`` names a ticket (``ticketId``) and a recipient other than its customer."""


def check_agent_reply(account: BusinessAccount, reference: str, to: str | BusinessScopedUser) -> None:
    """Before ``POST send`` with ``ticketId`` sends: a reply filed on a ticket must go to that
    ticket's customer (built-in backend; a number without a ticket is only a reference)."""
    from ..backends import ModelBackend, get_backend

    if not config.enabled() or not reference or not isinstance(get_backend(), ModelBackend):
        return
    ticket = find_ticket(account.organization, reference)
    if ticket is None:
        return
    customer = ticket.contact
    if isinstance(to, BusinessScopedUser):  # a user known by business-scoped user id
        same = bool(customer.user_id) and to.user_id == customer.user_id
    else:
        same = "".join(filter(str.isdigit, to or "")) == customer.wa_id
    if not same:
        named = f"+{customer.wa_id}" if customer.wa_id else customer.user_id
        raise TicketRecipientMismatch(
            f"ticketId {reference} is the conversation with {named}, not {str(to)!r}: "
            "send to the ticket's customer, or leave ticketId out."
        )


def record_agent_reply(message: Message, actor: Any = None) -> TicketComment | None:
    """``POST send`` with ``ticketId``: the sent message joins that ticket's thread as the
    agent's comment, when the help desk is on and the organization has that ticket."""
    if not config.enabled() or not message.reference:
        return None
    from ..backends import get_backend

    actor = actor if actor is not None else audit.current_context().actor
    account = message.account
    backend = get_backend()
    added = backend.add_comment(account, message.reference, text=message.text, message=message,
                                author=TicketComment.Author.AGENT, user=actor)  # fmt: skip
    if not added:
        return None
    ticket = find_ticket(account.organization, message.reference)
    return TicketComment.objects.filter(ticket=ticket, message=message).first() if ticket else None


def tickets_created(organization: Organization, since: datetime, until: datetime) -> int | None:
    """How many tickets ``organization`` opened in ``[since, until)``; ``None`` while the help
    desk is off (the stats then say there is nothing to count)."""
    if not config.enabled():
        return None
    return Ticket.objects.filter(
        organization=organization, created_at__gte=since, created_at__lt=until
    ).count()
