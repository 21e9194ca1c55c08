"""Tickets in django-helpdesk (the Django ticket tracker): ``pip install "wacloud[helpdesk]"``,
``"helpdesk"`` in ``INSTALLED_APPS`` (docs/helpdesk.md lists what it needs), then

    WACLOUD["HELPDESK"]["BACKEND"] = "wacloud_django.helpdesk.backends_django_helpdesk.DjangoHelpdeskBackend"
    WACLOUD["HELPDESK"]["DJANGO_HELPDESK_QUEUE"] = "whatsapp"   # or {organization slug: queue slug}

A first message opens a ticket in the queue (its title the message's first line, its
description the message) with a public follow-up holding the message; later messages, agent
replies of ``POST send`` and notes are follow-ups (the message's wamid kept as the follow-up's
``message_id``, so a redelivery is filed once); stored media is copied in as a follow-up
attachment. The customer is told the ticket's id. Lookups are limited to the organization's
queue, so one organization never reaches another's tickets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from ..exceptions import SettingError
from .config import helpdesk_settings

SETTING = 'WACLOUD["HELPDESK"]["DJANGO_HELPDESK_QUEUE"]'
_TITLES = {
    "customer": "Message from the customer (WhatsApp)",
    "agent": "Reply sent on WhatsApp",
    "system": "Note",
}


def _models() -> Any:
    try:
        from helpdesk import models
    except ImportError as error:  # the extra is not installed
        raise SettingError(
            "HELPDESK",
            f'The django-helpdesk backend needs the package: pip install "wacloud[helpdesk]" ({error})',
        ) from error
    return models


class DjangoHelpdeskBackend:
    """The four backend methods on django-helpdesk's ``Queue``, ``Ticket`` and ``FollowUp``."""

    def setting_problems(self) -> list[str]:
        """For ``manage.py check``: the package and its app, and the queue setting's shape."""
        from django.apps import apps

        problems = []
        if not apps.is_installed("helpdesk"):
            problems.append(
                'WACLOUD["HELPDESK"]["BACKEND"] is the django-helpdesk backend: add "helpdesk" (and '
                '"django.contrib.sites", "django.contrib.humanize") to INSTALLED_APPS'
            )
        configured = helpdesk_settings().get("DJANGO_HELPDESK_QUEUE")
        if not (isinstance(configured, str) and configured) and not (
            isinstance(configured, Mapping) and configured and all(
                isinstance(v, str) and v for v in configured.values())
        ):  # fmt: skip
            problems.append(
                f"{SETTING} must be a queue slug, or a dict of organization slug -> queue slug; "
                f"got {configured!r}"
            )
        return problems

    def queue(self, account: Any) -> Any:
        """The account's organization's queue (``DJANGO_HELPDESK_QUEUE``), which must exist."""
        configured = helpdesk_settings().get("DJANGO_HELPDESK_QUEUE")
        slug = configured
        if isinstance(configured, Mapping):
            slug = configured.get(account.organization.slug)
        if not isinstance(slug, str) or not slug:
            raise SettingError(
                "HELPDESK",
                f"{SETTING} must be a queue slug, or a dict of organization slug -> queue slug "
                f"naming {account.organization.slug!r}; got {configured!r}",
            )
        queue = _models().Queue.objects.filter(slug=slug).first()
        if queue is None:
            raise SettingError("HELPDESK", f"{SETTING}: django-helpdesk has no queue {slug!r}")
        return queue

    def _ticket(self, account: Any, number: str, *, lock: bool = False) -> Any:
        text = str(number).strip().lstrip("#")
        if not (text.isascii() and text.isdigit()):
            return None
        rows = _models().Ticket.objects.filter(queue=self.queue(account), pk=int(text))
        return (rows.select_for_update() if lock else rows).first()

    def create_ticket(self, account: Any, contact: Any, message: Any) -> str:
        queue = self.queue(account)  # a wrong setting fails before anything is written
        text = ((message.text if message is not None else "") or "").strip()
        title = text.splitlines()[0][:200] if text else f"WhatsApp message from +{contact.wa_id}"
        with transaction.atomic():
            ticket = _models().Ticket.objects.create(queue=queue, title=title, description=text)
            self._follow_up(ticket, text=text, message=message, title="Ticket opened from WhatsApp",
                            attachment=_attachment_of(message))  # fmt: skip
        return str(ticket.pk)

    def add_comment(self, account: Any, number: str, *, text: str, message: Any = None,
                    attachment: Any = None, author: str = "customer", user: Any = None) -> bool:  # fmt: skip
        ticket = self._ticket(account, number)
        if ticket is None:
            return False
        if message is not None and ticket.followup_set.filter(message_id=message.wamid).exists():
            return True  # a redelivered message is already on the thread
        agent = user if author == "agent" and getattr(user, "is_authenticated", False) else None
        with transaction.atomic():
            self._follow_up(ticket, text=text, message=message, title=_TITLES.get(author, author),
                            attachment=attachment, user=agent, public=author != "system")  # fmt: skip
        return True

    def get_status(self, account: Any, number: str) -> str | None:
        ticket = self._ticket(account, number)
        if ticket is None:
            return None
        tickets = _models().Ticket
        if ticket.status == tickets.RESOLVED_STATUS:
            return "resolved"
        if ticket.status in (tickets.CLOSED_STATUS, tickets.DUPLICATE_STATUS):
            return "closed"
        return "open"

    def close(self, account: Any, number: str) -> None:
        tickets = _models().Ticket
        with transaction.atomic():
            ticket = self._ticket(account, number, lock=True)
            if ticket is None or ticket.status == tickets.CLOSED_STATUS:
                return
            ticket.status = tickets.CLOSED_STATUS
            ticket.save(update_fields=["status", "modified"])
            self._follow_up(ticket, text="The customer cancelled the conversation on WhatsApp.",
                            title="Closed by the customer", new_status=tickets.CLOSED_STATUS)  # fmt: skip

    def _follow_up(self, ticket: Any, *, text: str, title: str, message: Any = None, attachment: Any = None,
                   user: Any = None, public: bool = True, new_status: int | None = None) -> Any:  # fmt: skip
        models = _models()
        follow_up = models.FollowUp.objects.create(
            ticket=ticket, title=title[:200], comment=text or "", public=public, user=user,
            new_status=new_status, message_id=message.wamid if message is not None else None,
        )  # fmt: skip
        data = _stored_bytes(attachment)
        if data is not None:
            name = attachment.filename or f"{attachment.media_id}"
            models.FollowUpAttachment.objects.create(
                followup=follow_up, file=ContentFile(data, name=name), filename=name,
                mime_type=attachment.mime_type or "application/octet-stream", size=len(data),
            )  # fmt: skip
        return follow_up


def _attachment_of(message: Any) -> Any:
    from .services.tickets import attachment_of

    return attachment_of(message)


def _stored_bytes(media_file: Any) -> bytes | None:
    """The media's stored (downloaded, hash-checked, decrypted) bytes; ``None`` while it has none."""
    if media_file is None or not media_file.file:
        return None
    with media_file.file.open("rb") as handle:
        return handle.read()
