"""What the web inbox shows and does beyond the other services: the conversation list
with its filters, one conversation's thread and contact panel, archiving, and template
previews. The pages (wacloud_django/inbox) are thin doors into this module and into
outbound, conversations, templates, integrations and reports, like the REST API."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import BigIntegerField, Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from wacloud import phone
from wacloud.errors import WacloudError

from ..automation.models import Escalation
from ..automation.services.consent import current_consent
from ..helpdesk.models import Ticket
from ..models import BusinessAccount, Contact, Conversation, Message, Organization, Template
from . import audit, live_updates
from .reports import day_range
from .tenancy import scoped

#: The filters of the list, as the page's query string names them.
FILTERS = ("unread", "mine", "escalated")

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class InboxError(WacloudError, ValueError):
    """A request the inbox cannot carry out (shown to the person, never a server error)."""


@dataclass(frozen=True)
class ConversationFilter:
    """The list's filters: unread, mine (assigned to the user, services.assignment), escalated,
    one account (phone number id), a search over name and number, archived ones."""

    unread: bool = False
    mine: bool = False
    escalated: bool = False
    account: str = ""
    search: str = ""
    archived: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ConversationFilter:
        def flag(name: str) -> bool:
            return str(query.get(name, "")).lower() in ("1", "true", "yes", "on")

        return cls(
            unread=flag("unread"),
            mine=flag("mine"),
            escalated=flag("escalated"),
            account=str(query.get("account", "")).strip(),
            search=str(query.get("q", "")).strip()[:100],
            archived=flag("archived"),
        )


def conversations(
    organization: Organization, user: Any, chosen: ConversationFilter
) -> QuerySet[Conversation]:
    """The organization's conversations matching ``chosen``, newest first, each annotated
    with ``open_escalation`` (bool), ``assigned_user_id`` (the conversation's assignee, else its
    open escalation's) and ``last_message_id``."""
    open_escalations = Escalation.objects.filter(conversation=OuterRef("pk"), resolved_at__isnull=True)
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-timestamp", "-pk")
    rows = scoped(Conversation.objects.select_related("contact", "account"), organization).annotate(
        open_escalation=Exists(open_escalations),
        assigned_user_id=Coalesce(
            F("assignee_id"),
            Subquery(open_escalations.values("assigned_to_id")[:1]),
            output_field=BigIntegerField(),
        ),
        last_message_id=Subquery(last.values("pk")[:1]),
    )
    status = Conversation.Status.CLOSED if chosen.archived else Conversation.Status.OPEN
    rows = rows.filter(status=status)
    if chosen.unread:
        rows = rows.filter(unread_count__gt=0)
    if chosen.escalated:
        rows = rows.filter(open_escalation=True)
    if chosen.mine:
        rows = rows.filter(assigned_user_id=user.pk)
    if chosen.account:
        rows = rows.filter(account__phone_number_id=chosen.account)
    if chosen.search:
        digits = re.sub(r"[^\d]", "", chosen.search)
        match = Q(contact__name__icontains=chosen.search)
        if digits:
            match |= Q(contact__wa_id__contains=digits)
        rows = rows.filter(match)
    return rows.order_by("-last_message_at", "-pk")


def attach_last_messages(rows: Sequence[Conversation]) -> None:
    """Set ``last_message`` on each of ``rows`` (annotated by :func:`conversations`); one query.
    Texts are encrypted at rest, so they are read as rows, not as annotations."""
    found = Message.objects.in_bulk([row.last_message_id for row in rows if row.last_message_id])
    for row in rows:
        row.last_message = found.get(row.last_message_id)


def window_left(conversation: Conversation, now: datetime | None = None) -> timedelta | None:
    """Time left in the 24 h customer service window (``None``: closed)."""
    now = now or timezone.now()
    if conversation.service_window_expires_at is None or conversation.service_window_expires_at <= now:
        return None
    return conversation.service_window_expires_at - now


def display_number(wa_id: str) -> str:
    """``+972 98-765-4321`` for a readable number, else the wa_id as stored."""
    try:
        return phone.display("+" + wa_id.lstrip("+"))
    except WacloudError:
        return wa_id


def thread(conversation: Conversation, limit: int = 200) -> list[Message]:
    """The conversation's latest ``limit`` messages, oldest first, with what each quotes."""
    rows = (
        Message.objects.filter(conversation=conversation)
        .select_related("reply_to")
        .prefetch_related("media")
        .order_by("-timestamp", "-pk")[:limit]
    )
    return list(reversed(list(rows)))


def contact_panel(conversation: Conversation) -> dict[str, Any]:
    """The contact's name, number in display format, tags, consent state and tickets."""
    contact: Contact = conversation.contact
    tickets = Ticket.objects.filter(contact=contact).order_by("-created_at")[:10]
    return {
        "contact": contact,
        # A user who hides their number is shown by business-scoped user id.
        "number": display_number(contact.wa_id) if contact.wa_id else contact.user_id,
        "tags": [str(tag) for tag in contact.tags or []],
        "consent": current_consent(contact),
        "opted_out": contact.opted_out,
        "tickets": list(tickets),
    }


def archive_conversation(conversation: Conversation, *, archived: bool = True) -> Conversation:
    """Close (archive) the conversation, or reopen it. A contact's next message opens a new
    conversation when this one is closed; reopening is refused while another is open."""
    wanted = Conversation.Status.CLOSED if archived else Conversation.Status.OPEN
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        before = locked.status
        if before == wanted:
            return locked
        if not archived:
            other = Conversation.objects.filter(
                account=locked.account_id, contact=locked.contact_id, status=Conversation.Status.OPEN
            )
            if other.exists():
                raise InboxError("this contact already has an open conversation")
        locked.status = wanted
        locked.save(update_fields=["status", "updated_at"])
        change = "archived" if archived else "reopened"
        live_updates.publish_after_commit(
            conversation.account.organization_id,
            {"event": "conversation", "conversation": locked.pk, "change": change},
        )
        audit.record(
            "conversation.archive" if archived else "conversation.reopen",
            organization=conversation.account.organization,
            target=locked,
            changes={"status": [before, wanted]},
        )
    return locked


def template_example_values(template: Template) -> list[str]:
    """The body's example values Meta stored with the template (``{{1}}``, ``{{2}}``, ...)."""
    for component in template.components or []:
        if str(component.get("type", "")).upper() == "BODY":
            example = component.get("example") or {}
            rows = example.get("body_text") or []
            if rows and isinstance(rows[0], list):
                return [str(value) for value in rows[0]]
    return []


def template_parts(template: Template) -> dict[str, str]:
    """The header, body and footer texts of ``template``, placeholders kept."""
    parts = {"header": "", "body": "", "footer": ""}
    for component in template.components or []:
        kind = str(component.get("type", "")).lower()
        if kind in parts and component.get("text"):
            parts[kind] = str(component["text"])
    return parts


def fill(text: str, values: Sequence[str]) -> str:
    """``text`` with ``{{n}}`` replaced by ``values[n-1]`` (a missing value keeps ``{{n}}``)."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.isdigit() and 0 < int(key) <= len(values) and values[int(key) - 1] != "":
            return values[int(key) - 1]
        return match.group(0)

    return _PLACEHOLDER.sub(replace, text)


def template_preview(template: Template, values: Sequence[str] | None = None) -> dict[str, Any]:
    """The template's texts filled with ``values`` (else its example values)."""
    typed = list(values or [])
    examples = template_example_values(template)
    values = typed or examples
    parts = template_parts(template)
    placeholders = sorted({int(n) for n in _PLACEHOLDER.findall(parts["body"]) if n.isdigit()})
    return {
        "header": fill(parts["header"], values),
        "body": fill(parts["body"], values),
        "footer": fill(parts["footer"], values),
        "placeholders": placeholders,
        "values": values,
        # For the form's fields: what was typed, and the examples as placeholders.
        "fields": [
            {
                "n": n,
                "typed": typed[n - 1] if n <= len(typed) else "",
                "example": examples[n - 1] if n <= len(examples) else "",
            }
            for n in placeholders
        ],
    }


def body_components(values: Sequence[str]) -> list[dict[str, Any]]:
    """The ``components`` of a template send whose body takes ``values``."""
    if not values:
        return []
    return [{"type": "body", "parameters": [{"type": "text", "text": value} for value in values]}]


def sendable_templates(organization: Organization, account: BusinessAccount) -> QuerySet[Template]:
    """The approved templates ``account`` may send."""
    rows = scoped(Template.objects.all(), organization).filter(status__iexact="APPROVED")
    if account.waba_id:
        rows = rows.filter(Q(account=account) | Q(account__isnull=True, waba_id=account.waba_id))
    else:
        rows = rows.filter(account=account)
    return rows.order_by("name", "language")


def show_typing(conversation: Conversation) -> bool:
    """Tell the contact an agent is typing (Meta shows it until the reply, or 25 seconds):
    sent with a read receipt of the newest inbound message. False when there is none."""
    from .accounts import client_for_account

    newest = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        .exclude(wamid=None)
        .order_by("-timestamp", "-pk")
        .first()
    )
    if newest is None or window_left(conversation) is None:
        return False
    client_for_account(conversation.account).mark_read(newest.wamid, typing_indicator=True)
    return True


# -- analytics page: shapes of services.reports' figures for charts ------------------------------


def daily_volume(
    organization: Organization,
    start: date,
    end: date,
    tz: str = "UTC",
    account: BusinessAccount | None = None,
) -> list[dict[str, Any]]:
    """Inbound and outbound messages per local day of ``start``..``end`` in ``tz``, every day
    listed, for the organization or one of its accounts (services.reports gives totals for the
    period; the chart needs the days)."""
    since, until = day_range(start, end, tz)
    messages = scoped(Message.objects.filter(timestamp__gte=since, timestamp__lt=until), organization)
    if account is not None:
        messages = messages.filter(account=account)
    rows = (
        messages.annotate(day=TruncDate("timestamp", tzinfo=ZoneInfo(tz)))
        .values("day")
        .annotate(
            inbound=Count("pk", filter=Q(direction=Message.Direction.INBOUND)),
            outbound=Count("pk", filter=Q(direction=Message.Direction.OUTBOUND)),
        )
    )
    counts = {row["day"]: row for row in rows}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [
        {
            "day": day,
            "inbound": counts.get(day, {}).get("inbound", 0),
            "outbound": counts.get(day, {}).get("outbound", 0),
        }
        for day in days
    ]


def delivery_funnel(figures: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Sent → delivered → read of the outbound messages that left the outbox."""
    by_status = figures["messages"]["outbound_by_status"]
    read = sum(by_status.get(status, 0) for status in ("read", "played"))
    delivered = read + by_status.get("delivered", 0)
    return [
        ("Attempted", figures["messages"]["attempted"]),
        ("Delivered", delivered),
        ("Read", read),
        ("Failed", by_status.get("failed", 0)),
    ]


def response_time_bars(figures: Mapping[str, Any]) -> list[tuple[str, float]]:
    """Average, median and 90th percentile waits, first replies and all replies, in minutes."""
    bars = []
    for label, key in (("First reply", "first_response_time"), ("Any reply", "response_time")):
        times = figures["conversations"][key]
        for name, field in (
            ("average", "average_seconds"),
            ("median", "p50_seconds"),
            ("p90", "p90_seconds"),
        ):
            seconds = times.get(field)
            bars.append((f"{label}, {name}", round((seconds or 0) / 60, 1)))
    return bars


def rendered_template_text(message: Message) -> str:
    """A sent template as the contact saw it: its stored body filled with the parameters
    sent (the row's own text, ``[template name (language)]``, when the template is unknown)."""
    content = message.content or {}
    name, language = content.get("name"), content.get("language")
    account = message.account
    candidates = Template.objects.filter(name=name, language=language)
    found = candidates.filter(
        Q(account=account) | Q(account__isnull=True, waba_id=account.waba_id)
        if account.waba_id
        else Q(account=account)
    ).first()
    if found is None:
        return message.text
    values: list[str] = []
    for component in content.get("components") or []:
        if isinstance(component, dict) and str(component.get("type", "")).lower() == "body":
            values = [
                str(p.get("text", "")) for p in component.get("parameters") or [] if isinstance(p, dict)
            ]
    parts = template_parts(found)
    return "\n\n".join(text for text in (fill(parts["header"], values), fill(parts["body"], values),
                                         fill(parts["footer"], values)) if text)  # fmt: skip


def quick_replies() -> list[str]:
    """The composer's canned texts, ``WACLOUD["INBOX_QUICK_REPLIES"]``."""
    from ..conf import get_setting

    return [str(text) for text in get_setting("INBOX_QUICK_REPLIES") or []]
