"""The customer hears about their ticket: a status change (``updated``; ``resolved`` has its
own message) and an assignment (``assigned``). Free text while the customer's 24-hour window
is open, else seed 004's templates (``ticket_updated``, ``ticket_assigned``,
``ticket_resolved``, registered by ``whatsapp_register_templates``).

``update_ticket`` schedules one notification per change with ``transaction.on_commit``: a
change that is rolled back says nothing, and a PATCH that changes nothing sends nothing. Each
goes through ``send_message`` (consent applies) and leaves a ``system`` comment on the thread,
"Customer notified ..." or "Customer not notified ...: <why>"."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from wacloud.errors import WacloudError

from ...log_privacy import get_logger
from ...models import Message, Template
from .. import config
from ..models import Ticket, TicketComment

logger = get_logger("wacloud.helpdesk")

UPDATED, ASSIGNED, RESOLVED = "updated", "assigned", "resolved"
TEMPLATES = {UPDATED: "ticket_updated", ASSIGNED: "ticket_assigned", RESOLVED: "ticket_resolved"}
#: The help desk's ``LANGUAGE`` -> the language of the default templates.
TEMPLATE_LANGUAGES = {"en": "en_US", "pt": "pt_BR"}


def enabled() -> bool:
    return config.enabled() and bool(config.helpdesk_settings().get("NOTIFY_STATUS_CHANGES", True))


def changes_to_notify(before: dict[str, Any], after: Ticket) -> list[str]:
    """The notifications a change from ``before`` (``status``, ``assignee_id``) to ``after`` calls for."""
    kinds = []
    if before["status"] != after.status:
        kinds.append(RESOLVED if after.status == Ticket.Status.RESOLVED else UPDATED)
    if after.assignee_id is not None and before["assignee_id"] != after.assignee_id:
        kinds.append(ASSIGNED)
    return kinds


def schedule(ticket: Ticket, kinds: list[str]) -> None:
    """Notify after the caller's transaction commits (nothing when it rolls back)."""
    if not kinds or not enabled():
        return
    for kind in kinds:
        transaction.on_commit(partial(notify, ticket.pk, kind))


def notify(ticket_id: int, kind: str) -> Message | None:
    """Send one notification and record it on the thread; ``None``: not sent (logged)."""
    from .tickets import add_comment

    ticket = Ticket.objects.select_related("account", "contact", "assignee").filter(pk=ticket_id).first()
    if ticket is None:
        return None
    try:
        message, how = _send(ticket, kind)
    except (WacloudError, ValueError) as error:
        logger.warning("ticket #%s: %s notification not sent: %s", ticket.number, kind, error)
        text = f"Customer not notified ({kind}): {error}"
        add_comment(ticket, text=text, author=TicketComment.Author.SYSTEM)
        return None
    add_comment(ticket, text=f"Customer notified ({kind}, {how}).", message=message,
                author=TicketComment.Author.SYSTEM)  # fmt: skip
    return message


def _agent_name(ticket: Ticket) -> str:
    user = ticket.assignee
    if user is None:
        return ""
    return (user.get_full_name() or user.get_username()).strip()


def _send(ticket: Ticket, kind: str) -> tuple[Message, str]:
    from ...services.contact_identity import recipient_of
    from ...services.outbound import ServiceWindowClosed, send_message

    account, to, number = ticket.account, recipient_of(ticket.contact), str(ticket.number)
    status, agent = config.status_name(ticket.status), _agent_name(ticket)
    try:
        body = config.text(kind, number=number, status=status, agent=agent)
        return send_message(account, to, "text", body, reference=number), "text"
    except ServiceWindowClosed:
        pass
    name = ticket.contact.name or str(to)
    values = {UPDATED: [name, number, status], ASSIGNED: [name, agent, number], RESOLVED: [name, number]}
    parameters = [{"type": "text", "text": value} for value in values[kind]]
    template, language = TEMPLATES[kind], template_language(ticket, TEMPLATES[kind])
    message = send_message(
        account, to, "template", template_name=template, template_language=language,
        template_components=[{"type": "body", "parameters": parameters}], reference=number,
    )  # fmt: skip
    return message, f"template {template} ({language})"


def template_language(ticket: Ticket, name: str) -> str:
    """The help desk's language, else any language the account has the template approved in."""
    chosen = config.language()
    wanted = TEMPLATE_LANGUAGES.get(chosen, chosen)
    approved = set(
        Template.objects.filter(
            waba_id=ticket.account.waba_id, name=name, status=Template.Status.APPROVED
        ).values_list("language", flat=True)
    )
    if wanted in approved or not approved:
        return wanted
    return sorted(approved)[0]
