"""Help desk sessions: one row per contact and account. A session is active while its
contact keeps writing; ``SESSION_TIMEOUT_HOURS`` of silence ends it (the next message opens a
new ticket), and :func:`cleanup_expired_sessions` deletes the rows nobody touched since."""

from __future__ import annotations

from django.utils import timezone

from ...models import BusinessAccount, Contact
from .. import config
from ..models import HelpdeskSession


def locked_session(account: BusinessAccount, contact: Contact) -> HelpdeskSession:
    """The contact's session row, locked until the caller's transaction ends (made when
    missing, inactive; the unique (account, contact) pair makes concurrent first messages
    end with one row)."""
    session, _ = HelpdeskSession.objects.get_or_create(
        account=account, contact=contact, defaults={"is_active": False, "ticket_number": ""}
    )
    return HelpdeskSession.objects.select_for_update(of=("self",)).get(pk=session.pk)


def is_current(session: HelpdeskSession) -> bool:
    """Whether ``session`` has a ticket and has seen a message within the timeout."""
    cutoff = timezone.now() - config.session_timeout()
    return bool(session.is_active and session.ticket_number and session.last_activity_at > cutoff)


def start(session: HelpdeskSession, ticket_number: str) -> None:
    now = timezone.now()
    session.ticket_number, session.is_active = ticket_number, True
    session.started_at = session.last_activity_at = now
    session.save(update_fields=["ticket_number", "is_active", "started_at", "last_activity_at"])


def touch(session: HelpdeskSession) -> None:
    session.last_activity_at = timezone.now()
    session.save(update_fields=["last_activity_at"])


def end(session: HelpdeskSession) -> None:
    """No ticket is current any more: the next message opens a new one. The number stays, so
    /status still answers about the last ticket."""
    session.is_active = False
    session.save(update_fields=["is_active"])


def cleanup_expired_sessions() -> int:
    """Delete the sessions silent for longer than the timeout (ended or not); returns how many."""
    cutoff = timezone.now() - config.session_timeout()
    return HelpdeskSession.objects.filter(last_activity_at__lt=cutoff).delete()[0]
