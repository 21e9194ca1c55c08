"""An inbound message meets the help desk: a command is answered; any other message opens a
ticket (when its contact has no current session) or joins the current ticket's thread.

Runs from the ``message_received`` receiver, so after the message's transaction committed and
after consent keywords were applied (a STOP, recorded as consent, is never a ticket). Replies
go through ``send_message`` as service replies: the contact has just written."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from wacloud.errors import WacloudError

from ...automation.services.confirmations import resolved_by
from ...log_privacy import get_logger
from ...models import BusinessAccount, ConsentRecord, Contact, Message
from .. import config
from ..backends import TicketBackend, get_backend
from . import sessions
from .tickets import attachment_of

logger = get_logger("wacloud.helpdesk")

#: Message types that change an earlier message rather than say something new.
_IGNORED_TYPES = {"reaction", "edit", "revoke", "system"}
_CLOSED = "closed"


@dataclass(frozen=True)
class Outcome:
    """What the help desk did with one message (``action``: ``created``, ``commented`` or the
    command's name) and the reply it sends (``""``: none)."""

    action: str
    ticket_number: str = ""
    reply: str = ""


def handle_message(message: Message, contact: Contact | None, account: BusinessAccount) -> Outcome | None:
    """Apply the help desk to a newly stored message; ``None``: not its business (help desk
    off, an echo, a reaction, a consent keyword, a sender without a contact)."""
    if not config.enabled() or contact is None or message.direction != Message.Direction.INBOUND:
        return None
    if message.type in _IGNORED_TYPES or ConsentRecord.objects.filter(message=message).exists():
        return None
    if resolved_by(message):  # a reply to a confirmation (Y/N/CANCEL), resolved before this ran
        return None
    command = config.match_command(message.text) if message.type == "text" else None
    backend = get_backend()
    # The session is held until the ticket's transaction committed (a Redis lock outlives it).
    with sessions.locked_session(account, contact) as session, transaction.atomic():
        if command is not None:
            outcome = _run_command(command, session, backend, account)
        else:
            outcome = _file_message(message, contact, account, session, backend)
    if outcome.reply:
        _reply(account, contact, outcome)
    return outcome


def _file_message(message, contact, account, session, backend: TicketBackend) -> Outcome:  # type: ignore[no-untyped-def]
    number = session.ticket_number
    if sessions.is_current(session) and backend.get_status(account, number) not in (None, _CLOSED):
        backend.add_comment(account, number, text=message.text, message=message,
                            attachment=attachment_of(message))  # fmt: skip
        sessions.touch(session)
        return Outcome("commented", number)
    number = str(backend.create_ticket(account, contact, message))
    sessions.start(session, number)
    return Outcome("created", number, config.text("created", number=number))


def _run_command(command: str, session, backend: TicketBackend, account: BusinessAccount) -> Outcome:  # type: ignore[no-untyped-def]
    number = session.ticket_number
    current = sessions.is_current(session)
    if current:
        sessions.touch(session)
    if command == config.STATUS:
        status = backend.get_status(account, number) if number else None
        if status is None:
            return Outcome(command, reply=config.text("no_ticket"))
        return Outcome(
            command, number, config.text("status", number=number, status=config.status_name(status))
        )
    if command == config.NEW:
        sessions.end(session)
        return Outcome(command, number, config.text("new"))
    if command == config.CANCEL:
        if not current:
            return Outcome(command, reply=config.text("nothing_to_cancel"))
        if backend.get_status(account, number) not in (None, _CLOSED):
            backend.close(account, number)
        sessions.end(session)
        return Outcome(command, number, config.text("cancelled", number=number))
    return Outcome(config.HELP if command == config.HELP else "unknown", reply=config.help_text())


def _reply(account: BusinessAccount, contact: Contact, outcome: Outcome) -> None:
    """Best effort: a reply that cannot go (no token, an opted-out contact) leaves the ticket."""
    from ...services.contact_identity import recipient_of
    from ...services.outbound import send_message

    try:
        to = recipient_of(contact)  # the number, else the business-scoped user id
        send_message(account, to, "text", outcome.reply, reference=outcome.ticket_number[:64])
    except (WacloudError, ValueError) as error:
        logger.warning("help desk reply to contact %s not sent: %s", contact.pk, error)
