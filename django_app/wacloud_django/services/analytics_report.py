"""Seed 000's ``analytics`` and seed 004's ``stats``, assembled from the additive figures
(rollup rows for full past UTC days, raw tables for the rest) and the figures that do not
add up over days (distinct contacts and conversations, cohorts, what is true now), all
computed by the database. docs/analytics.md states each figure and its denominator."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Count, Exists, Min, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from ..analytics_models import DailyRollup
from ..models import BusinessAccount, Contact, Conversation, Message, Organization, Template, WebhookEvent
from .analytics_figures import (
    HISTOGRAM_ERROR,
    Figures,
    exact_percentiles,
    histogram_percentile,
    merge,
    messages_between,
    raw_figures,
    turns,
)
from .analytics_people import PeriodSets
from .analytics_rollup import rolled_up_days, rolled_up_figures, utc_day
from .tenancy import scoped

_DELIVERED = (Message.Status.DELIVERED, Message.Status.READ, Message.Status.PLAYED)
_READ = (Message.Status.READ, Message.Status.PLAYED)
_COHORT_MONTHS_AFTER = 3


def day_range(start: date, end: date, tz: str = "UTC") -> tuple[datetime, datetime]:
    """``[start 00:00, end+1 00:00)`` in the time zone ``tz``."""
    zone = ZoneInfo(tz)
    return (
        datetime.combine(start, time.min, zone),
        datetime.combine(end + timedelta(days=1), time.min, zone),
    )


def _rate(part: float, whole: float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _average(seconds: float, count: int) -> float | None:
    return round(seconds / count, 1) if count else None


def plan(
    organization: Organization, since: datetime, until: datetime, now: datetime, use_rollup: bool = True
) -> tuple[set[date], list[tuple[datetime, datetime]]]:
    """Which full past UTC days of ``[since, until)`` come from the rollup, and the
    intervals left for the raw tables (the partial edge days of another time zone, today,
    and any day not rolled up yet)."""
    first = (since.astimezone(UTC) + timedelta(days=1) - timedelta(microseconds=1)).date()
    last = (min(until, now).astimezone(UTC) - timedelta(days=1)).date()
    days: set[date] = set()
    if use_rollup and first <= last:
        days = {day for day in rolled_up_days(organization, first, last) if utc_day(day)[1] <= until}
    intervals: list[tuple[datetime, datetime]] = []
    cursor = since
    for day in sorted(days):
        start, end = utc_day(day)
        if start > cursor:
            intervals.append((cursor, start))
        cursor = end
    if cursor < until:
        intervals.append((cursor, until))
    return days, intervals


def additive_figures(
    organization: Organization,
    since: datetime,
    until: datetime,
    accounts: Any,
    now: datetime,
    use_rollup: bool,
) -> tuple[Figures, set[date], list[tuple[datetime, datetime]]]:
    days, intervals = plan(organization, since, until, now, use_rollup)
    parts = [rolled_up_figures(organization, days, accounts)]
    for start, end in intervals:
        parts.extend(raw_figures(organization, start, end, accounts).values())
    return merge(parts), days, intervals


def _response(figures: Figures, prefix: str, exact: list[float | None] | None) -> dict[str, Any]:
    histogram = figures[f"{prefix}wait_histogram"]
    p50, p90 = exact if exact is not None else (histogram_percentile(histogram, 0.5),
                                                histogram_percentile(histogram, 0.9))  # fmt: skip
    turns_, answered = figures[f"{prefix}turns"], figures[f"{prefix}answered"]
    return {
        "turns": turns_,
        "answered": answered,
        "reply_rate": _rate(answered, turns_),
        "average_seconds": _average(figures[f"{prefix}wait_seconds"], answered),
        "p50_seconds": p50,
        "p90_seconds": p90,
    }


def message_figures(figures: Figures, unique_contacts: int) -> dict[str, Any]:
    by_status = figures["outbound_by_status"]
    attempted = sum(n for status, n in by_status.items() if status != Message.Status.QUEUED)
    delivered = sum(by_status.get(status, 0) for status in _DELIVERED)
    read = sum(by_status.get(status, 0) for status in _READ)
    failures = sorted(figures["failures_by_code"].items(), key=lambda item: (-item[1], item[0]))
    return {
        "total": figures["messages"],
        "inbound": figures["inbound"],
        "outbound": figures["outbound"],
        "by_type": dict(sorted(figures["by_type"].items())),
        "outbound_by_status": dict(sorted(by_status.items())),
        "attempted": attempted,
        "delivery_rate": _rate(delivered, attempted),
        "read_rate": _rate(read, attempted),
        "failure_rate": _rate(by_status.get(Message.Status.FAILED, 0), attempted),
        "rates_denominator": "attempted: outbound messages that left the outbox",
        "failures_by_code": [
            {"code": None if code == "None" else int(code), "count": n} for code, n in failures[:10]
        ],
        "unique_contacts": unique_contacts,
    }


def _in_range(path: str, since: datetime, until: datetime) -> Q:
    return Q(**{f"{path}__gte": since, f"{path}__lt": until})


def scoped_rows(model: Any, organization: Organization, accounts: Any, path: str = "account") -> Any:
    rows = model.objects.filter(**{f"{path}__organization": organization})
    return rows if accounts is None else rows.filter(**{f"{path}__in": accounts})


#: Zones whose local day is the UTC day: per-day series can come from the rollup's rows.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu",
                        "GMT", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0", "GMT+0", "GMT-0",
                        "Etc/Greenwich", "Greenwich"})  # fmt: skip


def daily_series(
    organization: Organization, accounts: Any, contacts: Any, conversations: Any, zone: ZoneInfo,
    since: datetime, until: datetime, days: set[date], intervals: list[tuple[datetime, datetime]],
) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Conversations opened and contacts stored per local day: from the rollup rows for its
    days when the zone's day is the UTC day, from the raw tables for the rest (or all of it)."""
    counts: dict[str, dict[date, int]] = {"conversations_opened": {}, "new_contacts": {}}
    raw_periods = [(since, until)]
    if days and zone.key in _UTC_NAMES:
        rows = DailyRollup.objects.filter(organization=organization, date__in=days)
        if accounts is not None:
            rows = rows.filter(account__in=accounts)
        totals = (
            rows.order_by().values_list("date").annotate(Sum("conversations_opened"), Sum("new_contacts"))
        )
        for day, opened, new in totals:
            counts["conversations_opened"][day], counts["new_contacts"][day] = opened, new
        raw_periods = intervals
    for name, rows in (("conversations_opened", conversations), ("new_contacts", contacts)):
        if not raw_periods:
            continue
        ranges = Q()
        for start, end in raw_periods:
            ranges |= _in_range("created_at", start, end)
        per_day = rows.filter(ranges).annotate(day=TruncDate("created_at", tzinfo=zone))
        for day, n in per_day.values_list("day").annotate(n=Count("pk")).order_by():
            counts[name][day] = counts[name].get(day, 0) + n
    return {
        name: [{"date": day.isoformat(), "count": n} for day, n in sorted(by_day.items()) if n]
        for name, by_day in counts.items()
    }


def _weekly(daily: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A per-day series summed by week (weeks start on Monday, dated by their Monday)."""
    weeks: dict[date, int] = {}
    for item in daily:
        day = date.fromisoformat(item["date"])
        monday = day - timedelta(days=day.weekday())
        weeks[monday] = weeks.get(monday, 0) + item["count"]
    return [{"date": day.isoformat(), "count": n} for day, n in sorted(weeks.items())]


def active_rows(rows: Any, link: str, since: datetime, until: datetime, **message_filter: Any) -> Any:
    """``rows`` (contacts or conversations) with a message in ``[since, until)``: one index
    probe per row on (contact|conversation, timestamp)."""
    wrote = Message.objects.filter(
        **{link: OuterRef("pk")}, timestamp__gte=since, timestamp__lt=until, **message_filter
    )
    return rows.filter(Exists(wrote))


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def cohorts(contacts: Any, since: datetime, until: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Contacts by the local month they were first stored (within the period), and how many
    of each wrote to the business in each of the following months (up to three, within the
    period). One aggregate query per cohort month."""
    answer = []
    month = since.astimezone(zone).date().replace(day=1)
    while datetime.combine(month, time.min, zone) < until:
        start = max(datetime.combine(month, time.min, zone), since)
        end = min(datetime.combine(add_months(month, 1), time.min, zone), until)
        members = contacts.filter(created_at__gte=start, created_at__lt=end)
        counts: dict[str, Any] = {"size": Count("pk")}
        for offset in range(1, _COHORT_MONTHS_AFTER + 1):
            window_start = datetime.combine(add_months(month, offset), time.min, zone)
            window_end = min(datetime.combine(add_months(month, offset + 1), time.min, zone), until)
            if window_start >= until:
                break
            wrote = Message.objects.filter(
                contact=OuterRef("pk"), direction=Message.Direction.INBOUND,
                timestamp__gte=window_start, timestamp__lt=window_end,
            )  # fmt: skip
            counts[f"m{offset}"] = Count("pk", filter=Q(Exists(wrote)))
        row = members.aggregate(**counts)
        retained = [row[f"m{offset}"] for offset in range(1, _COHORT_MONTHS_AFTER + 1) if f"m{offset}" in row]
        if cohort := cohort_row(month, row["size"], retained):
            answer.append(cohort)
        month = add_months(month, 1)
    return answer


def cohort_row(month: date, size: int, retained: list[int]) -> dict[str, Any] | None:
    if not size:
        return None
    return {"cohort": month.strftime("%Y-%m"), "size": size, "retained": retained,
            "retention": [_rate(n, size) for n in retained]}  # fmt: skip


def distinct_figures(
    contacts: Any, conversations: Any, since: datetime, until: datetime, zone: ZoneInfo
) -> Any:
    """Unique and returning contacts, active conversations and cohorts from the raw tables:
    one index probe per contact or conversation (on (contact|conversation, timestamp))."""
    in_period = Message.objects.filter(contact=OuterRef("pk"), timestamp__gte=since, timestamp__lt=until)
    wrote = in_period.filter(direction=Message.Direction.INBOUND)
    people = contacts.aggregate(
        unique_contacts=Count("pk", filter=Q(Exists(in_period))),
        returning=Count("pk", filter=Q(created_at__lt=since) & Q(Exists(wrote))),
    )
    talked = Message.objects.filter(conversation=OuterRef("pk"), timestamp__gte=since, timestamp__lt=until)
    people["active_conversations"] = conversations.filter(Exists(talked)).count()
    people["cohorts"] = cohorts(contacts, since, until, zone)
    return people


def campaign_funnels(organization: Organization, since: datetime, until: datetime, accounts: Any) -> Any:
    """Recipients of the campaigns started in the period, by how far each got; ``None``
    when the campaigns app is not installed (the model is looked up, not imported)."""
    try:
        campaign_model = apps.get_model("wacloud", "Campaign")
    except LookupError:
        return None
    campaigns = scoped_rows(campaign_model, organization, accounts, "account").filter(
        _in_range("started_at", since, until)
    )
    steps = {
        "sent": ("sent", "delivered", "read", "replied"),
        "delivered": ("delivered", "read", "replied"),
        "read": ("read", "replied"),
        "replied": ("replied",),
        "failed": ("failed",),
    }
    counts = {"n_recipients": Count("recipients")}
    for step, statuses in steps.items():
        counts[f"n_{step}"] = Count("recipients", filter=Q(recipients__status__in=statuses))
    rows = campaigns.values("pk", "name", "status", "template_name").annotate(**counts).order_by("pk")[:100]
    return [
        {"id": row["pk"], "name": row["name"], "status": row["status"], "template": row["template_name"],
         **{name.removeprefix("n_"): row[name] for name in counts}}
        for row in rows
    ]  # fmt: skip


def analytics(
    organization: Organization,
    start: date,
    end: date,
    tz: str = "UTC",
    account: BusinessAccount | None = None,
    use_rollup: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything seed 000's ``analytics`` reports for the local days ``start``..``end`` in
    ``tz``, for the organization or one of its accounts (docs/analytics.md)."""
    from ..helpdesk import config as helpdesk_config

    now = now or timezone.now()
    zone = ZoneInfo(tz)
    since, until = day_range(start, end, tz)
    accounts = None if account is None else [account.pk]
    figures, days, intervals = additive_figures(organization, since, until, accounts, now, use_rollup)

    exact = exact_first = None
    if not days:  # all from the raw tables: the exact percentiles
        waits = turns(messages_between(organization, since, until, accounts))
        exact = exact_percentiles(waits, (0.5, 0.9))
        exact_first = exact_percentiles(waits.filter(is_first=True), (0.5, 0.9))

    contacts = scoped_rows(Contact, organization, accounts)
    conversations = scoped_rows(Conversation, organization, accounts)
    open_now = conversations.filter(status=Conversation.Status.OPEN).count()
    people = contacts.aggregate(total=Count("pk"), opted_out=Count("pk", filter=Q(opted_out=True)))
    if days:  # the rollup's id sets, with the raw tables for what they do not cover
        people.update(
            PeriodSets(organization, days, accounts, now).figures(since, until, zone, _COHORT_MONTHS_AFTER)
        )
    else:
        people.update(distinct_figures(contacts, conversations, since, until, zone))
    active_conversations = people["active_conversations"]
    unique_contacts, returning = people["unique_contacts"], people["returning"]
    series = daily_series(
        organization, accounts, contacts, conversations, zone, since, until, days, intervals
    )
    # Templates belong to a WABA: the organization's are those of its accounts' WABAs (tenancy).
    templates = scoped(Template.objects.all(), organization)
    if account is not None:
        templates = Template.objects.filter(waba_id=account.waba_id) if account.waba_id else templates.none()
    webhooks = scoped_rows(WebhookEvent, organization, accounts)
    backlog = webhooks.filter(status__in=[WebhookEvent.Status.PENDING, WebhookEvent.Status.PROCESSING])
    waiting = backlog.aggregate(count=Count("pk"), oldest=Min("received_at"))
    oldest = waiting["oldest"]
    sent, read = figures["template_sent"], figures["template_read"]

    return {
        "period": {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "timezone": tz,
            "account": account.phone_number_id if account else None,
            "rollup_days": len(days),
            "raw_intervals": len(intervals),
        },
        "messages": message_figures(figures, unique_contacts),
        "conversations": {
            "opened": figures["conversations_opened"],
            "opened_per_day": series["conversations_opened"],
            "open_now": open_now,
            "active": active_conversations,
            "messages_per_conversation": _rate(figures["messages"], active_conversations, 2),
            "windows_opened": figures["windows_opened"],
            "escalations": figures["escalations"],
            "response_time": _response(figures, "", exact),
            "first_response_time": _response(figures, "first_", exact_first),
            "percentiles": "exact" if exact is not None else f"histogram (within {HISTOGRAM_ERROR:.1%})",
        },
        "contacts": {
            "new": figures["new_contacts"],
            "new_per_day": series["new_contacts"],
            "new_per_week": _weekly(series["new_contacts"]),
            "returning": returning,
            "total": people["total"],
            "opted_out": people["opted_out"],
            "opt_ins": figures["opt_ins"],
            "opt_outs": figures["opt_outs"],
            "cohorts": people["cohorts"],
        },
        "templates": {
            "by_status": dict(sorted(templates.values_list("status").annotate(n=Count("pk")).order_by())),
            "sends": [
                {"name": name, "sent": n, "read": read.get(name, 0), "read_rate": _rate(read.get(name, 0), n)}
                for name, n in sorted(sent.items(), key=lambda item: (-item[1], item[0]))
            ],
            "campaigns": campaign_funnels(organization, since, until, accounts),
        },
        "webhooks": {
            "received": figures["webhooks_received"],
            "failed": figures["webhooks_failed"],
            "error_rate": _rate(figures["webhooks_failed"], figures["webhooks_received"]),
            "meta_to_stored_seconds": _average(
                figures["store_latency_seconds"], figures["store_latency_count"]
            ),
            "stored_to_processed_seconds": _average(
                figures["process_latency_seconds"], figures["process_latency_count"]
            ),
            "backlog": waiting["count"],
            "oldest_backlog_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
        },
        "helpdesk": {
            "enabled": helpdesk_config.enabled(),
            "tickets_created": figures["tickets_created"],
            "tickets_via_whatsapp": figures["tickets_via_whatsapp"],
            "tickets_resolved": figures["tickets_resolved"],
            "average_resolution_seconds": _average(
                figures["resolution_seconds"], figures["tickets_resolved"]
            ),
        },
    }


def stats(organization: Organization, days: int, now: datetime | None = None) -> dict[str, Any]:
    """Seed 004's ``stats`` over the last ``days`` times 24 hours, with exactly its keys.
    ``avgResponseTime`` is in minutes; ``ticketsCreated`` counts the help desk's tickets
    (``None`` while it is off)."""
    from ..helpdesk import config as helpdesk_config

    now = now or timezone.now()
    since = now - timedelta(days=days)
    figures, days, _intervals = additive_figures(organization, since, now, None, now, True)
    if days:
        contacts = PeriodSets(organization, days, None, now).union("contact_ids", since, now).bit_count()
    else:
        contacts = active_rows(scoped_rows(Contact, organization, None), "contact", since, now).count()
    average = _average(figures["wait_seconds"], figures["answered"])
    return {
        "totalMessages": figures["messages"],
        "inboundMessages": figures["inbound"],
        "outboundMessages": figures["outbound"],
        "uniqueContacts": contacts,
        "ticketsCreated": figures["tickets_created"] if helpdesk_config.enabled() else None,
        "avgResponseTime": round(average / 60, 1) if average is not None else None,
    }
