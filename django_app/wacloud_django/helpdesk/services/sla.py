"""SLA warnings: an open or pending ticket whose ``sla_due_at`` comes within
``WACLOUD["HELPDESK"]["SLA_WARNING_MINUTES"]`` gets one message to its customer (free text
inside the 24-hour window, the ``sla_warning`` template outside it) and a system comment
"SLA warning sent ..." on its thread.

The comment is the record and the guard: a ticket with one is never warned again. It is
written in the same transaction that locks the ticket row and queues the message (delivery
runs after the commit), so two beat schedulers running the sweep at once warn a ticket once."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from wacloud.errors import WacloudError

from ...exceptions import SettingError
from ...log_privacy import get_logger
from ...models import Message, Template
from .. import config
from ..models import Ticket, TicketComment
from .tickets import add_comment

logger = get_logger("wacloud.helpdesk")

DEFAULT_WARNING_MINUTES = 60
#: Every SLA comment starts so (sent or not sent): the idempotency guard looks for it.
COMMENT_PREFIX = "SLA warning"
TEMPLATE_NAME = "sla_warning"
#: The help desk's ``LANGUAGE`` -> the language of the default template (services/default_templates.py).
TEMPLATE_LANGUAGES = {"en": "en_US", "pt": "pt_BR"}
_WARNABLE = (Ticket.Status.OPEN, Ticket.Status.PENDING)


def warning_lead_time() -> timedelta:
    """``WACLOUD["HELPDESK"]["SLA_WARNING_MINUTES"]`` (default 60), read on every call."""
    minutes = config.helpdesk_settings().get("SLA_WARNING_MINUTES", DEFAULT_WARNING_MINUTES)
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        name = 'WACLOUD["HELPDESK"]["SLA_WARNING_MINUTES"]'
        raise SettingError("HELPDESK", f"{name} must be a positive number of minutes, got {minutes!r}")
    return timedelta(minutes=minutes)


def _warned() -> Exists:
    return Exists(
        TicketComment.objects.filter(
            ticket=OuterRef("pk"), author=TicketComment.Author.SYSTEM, text__startswith=COMMENT_PREFIX
        )
    )


def _due_soon(now: datetime) -> QuerySet[Ticket]:
    """Open/pending tickets due in ``(now, now + lead time]`` and not warned yet."""
    return Ticket.objects.filter(
        status__in=_WARNABLE, sla_due_at__gt=now, sla_due_at__lte=now + warning_lead_time()
    ).filter(~_warned())


def send_sla_warnings() -> dict[str, int]:
    """Warn every ticket due soon; returns ``{"text": n, "template": n, "failed": n}``. Overdue
    tickets are not warned (the warning says the ticket *will* be due). Nothing while the help
    desk is off."""
    counts = {"text": 0, "template": 0, "failed": 0}
    if not config.enabled():
        return counts
    for ticket_id in list(_due_soon(timezone.now()).values_list("pk", flat=True)):
        outcome = warn_ticket(ticket_id)
        if outcome is not None:
            counts[outcome] += 1
    return counts


def warn_ticket(ticket_id: int) -> str | None:
    """Warn one ticket, at most once: ``"text"``, ``"template"``, ``"failed"`` (the refusal is
    recorded as the comment, so it is not retried every minute) or ``None`` (another sweep
    warned it first, or it is no longer due soon)."""
    with transaction.atomic():
        # Locked: a second sweep waits here, then finds the comment this one wrote.
        ticket = (
            Ticket.objects.select_for_update(of=("self",)).select_related("account", "contact")
            .filter(pk=ticket_id).first()
        )  # fmt: skip
        if ticket is None or not _due_soon(timezone.now()).filter(pk=ticket.pk).exists():
            return None
        due = timezone.localtime(ticket.sla_due_at)
        try:
            message, how = _send_warning(ticket, f"{due:%H:%M}")
        except (WacloudError, ValueError) as error:
            logger.warning("SLA warning for ticket #%s not sent: %s", ticket.number, error)
            text = f"{COMMENT_PREFIX} not sent: {error}"
            add_comment(ticket, text=text, author=TicketComment.Author.SYSTEM)
            return "failed"
        text = f"{COMMENT_PREFIX} sent ({how}): due at {due:%Y-%m-%d %H:%M %Z}."
        add_comment(ticket, text=text, message=message, author=TicketComment.Author.SYSTEM)
        return "template" if how.startswith("template") else "text"


def _send_warning(ticket: Ticket, due: str) -> tuple[Message, str]:
    """Free text while the customer's 24-hour window is open (``send_message`` decides), else
    the ``sla_warning`` template. Queued: the delivery runs after the caller's commit."""
    from ...services.contact_identity import recipient_of
    from ...services.outbound import ServiceWindowClosed, send_message

    account, to, number = ticket.account, recipient_of(ticket.contact), str(ticket.number)
    try:
        body = config.text("sla_warning", number=number, due=due)
        return send_message(account, to, "text", body, reference=number), "text"
    except ServiceWindowClosed:
        pass
    language = _template_language(ticket)
    parameters = [{"type": "text", "text": number}, {"type": "text", "text": due}]
    message = send_message(
        account, to, "template", template_name=TEMPLATE_NAME, template_language=language,
        template_components=[{"type": "body", "parameters": parameters}], reference=number,
    )  # fmt: skip
    return message, f"template {TEMPLATE_NAME} ({language})"


def _template_language(ticket: Ticket) -> str:
    """The help desk's language, else any language the account has the template approved in."""
    chosen = config.language()
    wanted = TEMPLATE_LANGUAGES.get(chosen, chosen)
    approved = set(
        Template.objects.filter(
            waba_id=ticket.account.waba_id, name=TEMPLATE_NAME, status=Template.Status.APPROVED
        ).values_list("language", flat=True)
    )
    if wanted in approved or not approved:
        return wanted
    return sorted(approved)[0]
