"""Where tickets live. ``WACLOUD["HELPDESK"]["BACKEND"]`` names a class by dotted path; the
help desk calls four methods on an instance of it, each given the account the WhatsApp
conversation belongs to (so a backend knows the organization):

- ``create_ticket(account, contact, message) -> str``: open a ticket for ``message`` (its
  first message) and return the number the customer is told;
- ``add_comment(account, number, *, text, message=None, attachment=None, author="customer",
  user=None) -> bool``: add to the thread (``False``: no such ticket);
- ``get_status(account, number) -> str | None``: ``open``/``pending``/``resolved``/``closed``
  (``None``: no such ticket);
- ``close(account, number) -> None``.

:class:`ModelBackend` (the default) keeps them in the built-in ``Ticket``/``TicketComment``
tables, which the REST API, the stats and the agent replies of ``POST send`` read."""

from __future__ import annotations

from typing import Any, Protocol

from django.utils.module_loading import import_string

from ..exceptions import SettingError
from .config import helpdesk_settings


class TicketBackend(Protocol):
    def create_ticket(self, account: Any, contact: Any, message: Any) -> str: ...

    def add_comment(
        self, account: Any, number: str, *, text: str, message: Any = None, attachment: Any = None,
        author: str = "customer", user: Any = None,
    ) -> bool: ...  # fmt: skip

    def get_status(self, account: Any, number: str) -> str | None: ...

    def close(self, account: Any, number: str) -> None: ...


class ModelBackend:
    """Tickets in wacloud's own tables (``helpdesk.services.tickets`` does the writing)."""

    def create_ticket(self, account: Any, contact: Any, message: Any) -> str:
        from .services.tickets import open_ticket

        return str(open_ticket(account, contact, message).number)

    def add_comment(self, account: Any, number: str, *, text: str, message: Any = None,
                    attachment: Any = None, author: str = "customer", user: Any = None) -> bool:  # fmt: skip
        from .services.tickets import add_comment, find_ticket

        ticket = find_ticket(account.organization, number)
        if ticket is None:
            return False
        add_comment(ticket, text=text, message=message, attachment=attachment, author=author, user=user)
        return True

    def get_status(self, account: Any, number: str) -> str | None:
        from .services.tickets import find_ticket

        ticket = find_ticket(account.organization, number)
        return ticket.status if ticket is not None else None

    def close(self, account: Any, number: str) -> None:
        from .models import Ticket
        from .services.tickets import find_ticket, update_ticket

        ticket = find_ticket(account.organization, number)
        if ticket is not None and ticket.status != Ticket.Status.CLOSED:
            # The customer closed it (/cancel) and gets that reply: no status notification too.
            update_ticket(ticket, {"status": Ticket.Status.CLOSED}, notify=False)


def get_backend() -> TicketBackend:
    """An instance of the configured backend (looked up on every call)."""
    path = helpdesk_settings().get("BACKEND") or "wacloud_django.helpdesk.backends.ModelBackend"
    try:
        backend = import_string(path) if isinstance(path, str) else path
    except ImportError as error:
        raise SettingError(
            "HELPDESK", f'WACLOUD["HELPDESK"]["BACKEND"]: cannot import {path!r} ({error})'
        ) from error
    return backend() if isinstance(backend, type) else backend
