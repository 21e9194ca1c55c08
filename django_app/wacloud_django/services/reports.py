"""Figures for the API's ``analytics`` (seed 000) and ``stats`` (seed 004), per
organization and date range, computed by the database (aggregates, no loops over rows).

Denominators are stated with each rate: delivery, read and failure rates are over the
outbound messages that left the outbox (``attempted``)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import Contact, Conversation, Message, Organization, Template, WebhookEvent
from .analytics import outbound_rates
from .tenancy import scoped

_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def day_range(start: date, end: date, tz: str = "UTC") -> tuple[datetime, datetime]:
    """``[start 00:00, end+1 00:00)`` in the time zone ``tz``."""
    zone = ZoneInfo(tz)
    return (
        datetime.combine(start, time.min, zone),
        datetime.combine(end + timedelta(days=1), time.min, zone),
    )


def response_times(messages: Any) -> dict[str, Any]:
    """Average time from a customer's turn (the first inbound message after a business
    message, or the conversation's first) to the business's next message, in seconds."""
    inbound = messages.filter(direction=Message.Direction.INBOUND, conversation__isnull=False)
    outbound_after = Message.objects.filter(
        conversation=OuterRef("conversation"),
        direction=Message.Direction.OUTBOUND,
        timestamp__gte=OuterRef("timestamp"),
    ).order_by("timestamp")
    previous_outbound = Message.objects.filter(
        conversation=OuterRef("conversation"),
        direction=Message.Direction.OUTBOUND,
        timestamp__lt=OuterRef("timestamp"),
    ).order_by("-timestamp")
    earlier_in_turn = Message.objects.filter(
        conversation=OuterRef("conversation"),
        direction=Message.Direction.INBOUND,
        timestamp__lt=OuterRef("timestamp"),
        # After the business last wrote (or ever, when it has not written yet).
        timestamp__gt=Coalesce(OuterRef("since"), Value(_EPOCH, output_field=DateTimeField())),
    )
    turns = (
        inbound.annotate(
            answered_at=Subquery(outbound_after.values("timestamp")[:1]),
            since=Subquery(previous_outbound.values("timestamp")[:1]),
        )
        .annotate(continues_turn=Exists(earlier_in_turn))
        .filter(continues_turn=False)
    )
    answered = turns.filter(answered_at__isnull=False).annotate(
        wait=ExpressionWrapper(F("answered_at") - F("timestamp"), output_field=DurationField())
    )
    summary = answered.aggregate(average=Avg("wait"), count=Count("pk"))
    average = summary["average"]
    return {
        "turns": turns.count(),
        "answered": summary["count"],
        "average_seconds": round(average.total_seconds(), 1) if average is not None else None,
    }


def message_stats(organization: Organization, since: datetime, until: datetime) -> dict[str, Any]:
    messages = scoped(Message.objects.all(), organization).filter(timestamp__gte=since, timestamp__lt=until)
    by_direction = dict(messages.values_list("direction").annotate(n=Count("pk")).order_by())
    outbound = messages.filter(direction=Message.Direction.OUTBOUND)
    rates = outbound_rates(outbound)
    failures = [
        {"code": code, "count": n}
        for code, n in outbound.filter(status=Message.Status.FAILED)
        .values_list("error_code")
        .annotate(n=Count("pk"))
        .order_by("-n")[:10]
    ]
    return {
        "total": sum(by_direction.values()),
        "inbound": by_direction.get(Message.Direction.INBOUND, 0),
        "outbound": by_direction.get(Message.Direction.OUTBOUND, 0),
        "by_type": dict(messages.values_list("type").annotate(n=Count("pk")).order_by()),
        "outbound_by_status": rates["by_status"],
        "attempted": rates["attempted"],
        "delivery_rate": rates["delivery_rate"],
        "read_rate": rates["read_rate"],
        "failure_rate": rates["failure_rate"],
        "rates_denominator": "attempted: outbound messages that left the outbox",
        "failures_by_code": failures,
        "unique_contacts": messages.exclude(contact=None).values("contact").distinct().count(),
    }


def analytics(organization: Organization, start: date, end: date, tz: str = "UTC") -> dict[str, Any]:
    """Everything seed 000's ``analytics`` reports, for ``start``..``end`` (days, inclusive)."""
    since, until = day_range(start, end, tz)
    messages = scoped(Message.objects.all(), organization).filter(timestamp__gte=since, timestamp__lt=until)
    conversations = scoped(Conversation.objects.all(), organization)
    contacts = scoped(Contact.objects.all(), organization)
    templates = scoped(Template.objects.all(), organization)
    webhooks = scoped(WebhookEvent.objects.all(), organization).filter(
        received_at__gte=since, received_at__lt=until
    )
    return {
        "period": {"start_date": start.isoformat(), "end_date": end.isoformat(), "timezone": tz},
        "messages": message_stats(organization, since, until),
        "conversations": {
            "opened": conversations.filter(created_at__gte=since, created_at__lt=until).count(),
            "open_now": conversations.filter(status=Conversation.Status.OPEN).count(),
            "response_time": response_times(messages),
        },
        "contacts": {
            "new": contacts.filter(created_at__gte=since, created_at__lt=until).count(),
            "total": contacts.count(),
            "opted_out": contacts.filter(opted_out=True).count(),
        },
        "templates": dict(templates.values_list("status").annotate(n=Count("pk")).order_by()),
        "webhooks": {
            "received": webhooks.count(),
            "by_status": dict(webhooks.values_list("status").annotate(n=Count("pk")).order_by()),
        },
    }


def stats(organization: Organization, days: int) -> dict[str, Any]:
    """Seed 004's ``stats``, with its keys. ``avgResponseTime`` is in minutes;
    ``ticketsCreated`` counts the help desk's tickets (``None`` while it is off)."""
    from ..helpdesk.services.tickets import tickets_created

    until = timezone.now()
    since = until - timedelta(days=days)
    figures = message_stats(organization, since, until)
    messages = scoped(Message.objects.all(), organization).filter(timestamp__gte=since, timestamp__lt=until)
    average = response_times(messages)["average_seconds"]
    return {
        "totalMessages": figures["total"],
        "inboundMessages": figures["inbound"],
        "outboundMessages": figures["outbound"],
        "uniqueContacts": figures["unique_contacts"],
        "ticketsCreated": tickets_created(organization, since, until),
        "avgResponseTime": round(average / 60, 1) if average is not None else None,
    }
