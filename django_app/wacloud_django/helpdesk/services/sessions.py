"""Help desk sessions: one per contact and account. A session is active while its contact
keeps writing; ``SESSION_TIMEOUT_HOURS`` of silence ends it (the next message opens a new
ticket), and :func:`cleanup_expired_sessions` deletes the sessions nobody touched since.

Two stores behind one interface, chosen by ``WACLOUD["HELPDESK"]["SESSION_BACKEND"]`` on
every call: ``"database"`` (the default, ``HelpdeskSession`` rows) and ``"redis"``
(``services/redis_sessions.py``, for several web workers without a shared lock table).
:func:`locked_session` holds the contact's session for the caller, so two messages of one
contact are filed one after the other; :func:`start`, :func:`touch` and :func:`end` write it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from ...exceptions import SettingError
from ...models import BusinessAccount, Contact
from .. import config
from ..models import HelpdeskSession
from . import redis_sessions

DATABASE, REDIS = "database", "redis"


def store() -> str:
    """``SESSION_BACKEND``: ``"database"`` or ``"redis"`` (which then needs its URL)."""
    name = config.helpdesk_settings().get("SESSION_BACKEND") or DATABASE
    if name not in (DATABASE, REDIS):
        raise SettingError(
            "HELPDESK",
            f'WACLOUD["HELPDESK"]["SESSION_BACKEND"] must be "database" or "redis", got {name!r}',
        )
    if name == REDIS:
        redis_sessions.redis_url()  # named in the error when missing
    return name


@contextmanager
def locked_session(account: BusinessAccount, contact: Contact) -> Iterator[Any]:
    """The contact's session (made, inactive, when missing), held until the block ends: a
    locked row inside a transaction, or a Redis lock. Concurrent first messages of a contact
    end with one session."""
    if store() == REDIS:
        with redis_sessions.locked_session(account.pk, contact.pk) as session:
            yield session
        return
    with transaction.atomic():
        session, _ = HelpdeskSession.objects.get_or_create(
            account=account, contact=contact, defaults={"is_active": False, "ticket_number": ""}
        )
        yield HelpdeskSession.objects.select_for_update(of=("self",)).get(pk=session.pk)


def is_current(session: Any) -> bool:
    """Whether ``session`` has a ticket and has seen a message within the timeout."""
    cutoff = timezone.now() - config.session_timeout()
    return bool(session.is_active and session.ticket_number and session.last_activity_at > cutoff)


def _save(session: Any, fields: list[str]) -> None:
    if isinstance(session, HelpdeskSession):
        session.save(update_fields=fields)
    else:
        redis_sessions.save(session)


def start(session: Any, ticket_number: str) -> None:
    now = timezone.now()
    session.ticket_number, session.is_active = ticket_number, True
    session.started_at = session.last_activity_at = now
    _save(session, ["ticket_number", "is_active", "started_at", "last_activity_at"])


def touch(session: Any) -> None:
    session.last_activity_at = timezone.now()
    _save(session, ["last_activity_at"])


def end(session: Any) -> None:
    """No ticket is current any more: the next message opens a new one. The number stays, so
    /status still answers about the last ticket."""
    session.is_active = False
    _save(session, ["is_active"])


def cleanup_expired_sessions() -> int:
    """Delete the sessions silent for longer than the timeout (ended or not); returns how many."""
    cutoff = timezone.now() - config.session_timeout()
    if store() == REDIS:
        return redis_sessions.delete_silent_since(cutoff)
    return HelpdeskSession.objects.filter(last_activity_at__lt=cutoff).delete()[0]
