"""The additive analytics figures, computed by the database on the raw tables for a time
interval, per account (docs/analytics.md). The daily rollup stores exactly these for one
UTC day, and a report adds them up over days, so both paths share this one definition.

Every figure is an aggregate query grouped by account (no loop over messages); Python
only adds up the grouped rows (types, statuses, histogram buckets)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from ..analytics_models import ROLLUP_BREAKDOWNS, ROLLUP_COUNTS, ROLLUP_SECONDS
from ..models import (
    SERVICE_WINDOW,
    ConsentRecord,
    Contact,
    Conversation,
    Escalation,
    Message,
    Organization,
    Ticket,
    WebhookEvent,
)

Figures = dict[str, Any]

#: Response-time histogram: bucket 0 holds waits under a second; bucket ``b >= 1`` holds
#: ``[2**((b-1)/8), 2**(b/8))`` seconds, so a percentile read from it is off by less than
#: one bucket's width, 2**(1/8) - 1 = 9.05 % of the value (under a second: < 1 s).
BUCKETS_PER_DOUBLING = 8
HISTOGRAM_ERROR = 2 ** (1 / BUCKETS_PER_DOUBLING) - 1

_DELIVERED = (Message.Status.DELIVERED, Message.Status.READ, Message.Status.PLAYED)
_READ = (Message.Status.READ, Message.Status.PLAYED)
_RESOLVED = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)


class Seconds(Func):
    """``end - start`` in seconds (a float rounded to the millisecond), the same on both databases."""

    output_field = FloatField()

    def __init__(self, end: Any, start: Any) -> None:
        super().__init__(end, start)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # PostgreSQL
        return super().as_sql(
            compiler,
            connection,
            template="ROUND(EXTRACT(EPOCH FROM (%(expressions)s))::numeric, 3)::double precision",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django's own function for DateTimeField subtraction on SQLite: microseconds.
        return super().as_sql(
            compiler,
            connection,
            template="ROUND(django_timestamp_diff(%(expressions)s) / 1000000.0, 3)",
            **extra,
        )


def _turn_buckets(messages: QuerySet[Message]) -> list[tuple[Any, ...]]:
    """Turns grouped by account and histogram bucket: count, summed wait, and the same for
    first turns. The turns are a fenced subquery (``OFFSET 0``), so each correlated lookup
    runs once per message rather than once per reference to the wait."""
    inner = turns(messages).order_by().values("account_id", "is_first", "wait")
    sql, params = inner.query.sql_with_params()
    fence = " OFFSET 0" if connection.vendor == "postgresql" else " LIMIT -1 OFFSET 0"
    bucket = (
        f"CASE WHEN t.wait IS NULL THEN NULL WHEN t.wait < 1 THEN 0 "
        f"ELSE CAST(FLOOR(LN(t.wait) / LN(2) * {BUCKETS_PER_DOUBLING}) AS INTEGER) + 1 END"
    )
    first = "CASE WHEN t.is_first THEN 1 ELSE 0 END"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT b.account_id, b.bucket, COUNT(*), SUM(b.wait), SUM(b.first), SUM(b.first * b.wait) "
            f"FROM (SELECT t.account_id, t.wait, {bucket} AS bucket, {first} AS first "
            f"FROM ({sql}{fence}) t) b GROUP BY b.account_id, b.bucket",
            params,
        )
        return cursor.fetchall()


def bucket_bounds(bucket: int) -> tuple[float, float]:
    if bucket <= 0:
        return 0.0, 1.0
    return 2 ** ((bucket - 1) / BUCKETS_PER_DOUBLING), 2 ** (bucket / BUCKETS_PER_DOUBLING)


def histogram_percentile(histogram: dict[str, int], fraction: float) -> float | None:
    """The ``fraction`` percentile of a merged histogram, interpolated between the two
    ranked values the way ``percentile_cont`` does; each ranked value is placed inside its
    bucket, so the answer is within one bucket's width (``HISTOGRAM_ERROR``) of the exact one."""
    total = sum(histogram.values())
    if not total:
        return None
    buckets = sorted((int(bucket), count) for bucket, count in histogram.items() if count)

    def ranked(rank: int) -> float:  # the rank-th smallest value (0-based), placed in its bucket
        seen = 0
        for bucket, count in buckets:
            if rank < seen + count:
                low, high = bucket_bounds(bucket)
                return low + (high - low) * (rank - seen + 0.5) / count
            seen += count
        raise AssertionError("rank beyond the histogram")

    position = fraction * (total - 1)
    low = math.floor(position)
    value = ranked(low)
    if position > low:
        value += (ranked(low + 1) - value) * (position - low)
    return round(value, 1)


def exact_percentiles(waits: QuerySet[Any], fractions: Iterable[float]) -> list[float | None]:
    """``percentile_cont`` of the ``wait`` annotation of ``waits`` (rows without one are
    ignored): the database's function on PostgreSQL, ORDER BY + OFFSET elsewhere, which
    interpolate the same way, so both give the same answer."""
    fractions = list(fractions)
    if connection.vendor == "postgresql":
        # percentile_cont skips NULLs (unanswered turns); OFFSET 0 keeps the lookups from being repeated.
        sql, params = waits.order_by().values("wait").query.sql_with_params()
        columns = ", ".join("percentile_cont(%s) WITHIN GROUP (ORDER BY w.wait)" for _ in fractions)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM ({sql} OFFSET 0) AS w", [*fractions, *params])
            row = cursor.fetchone()
        return [None if value is None else round(float(value), 1) for value in row]
    waits = waits.filter(wait__isnull=False)
    count = waits.count()
    answers: list[float | None] = []
    ordered = waits.order_by("wait").values_list("wait", flat=True)
    for fraction in fractions:
        if not count:
            answers.append(None)
            continue
        position = fraction * (count - 1)
        low = math.floor(position)
        pair = list(ordered[low : low + 2])
        value = pair[0] if len(pair) == 1 else pair[0] + (pair[1] - pair[0]) * (position - low)
        answers.append(round(value, 1))
    return answers


# -- the raw queries ----------------------------------------------------------------------------------


def messages_between(organization: Organization, since: datetime, until: datetime, accounts: Any = None):
    rows = Message.objects.filter(
        account__organization=organization, timestamp__gte=since, timestamp__lt=until
    )
    return rows if accounts is None else rows.filter(account__in=accounts)


def _earlier(**conditions: Any) -> Q:
    """Messages of the same conversation before this one (by time, then id, so equal times
    still have one order)."""
    # The redundant ``timestamp <= t`` lets the (conversation, timestamp) index bound the scan.
    return Q(conversation=OuterRef("conversation"), timestamp__lte=OuterRef("timestamp"), **conditions) & (
        Q(timestamp__lt=OuterRef("timestamp")) | Q(pk__lt=OuterRef("pk"))
    )


def turns(messages: QuerySet[Message]) -> QuerySet[Message]:
    """The customer's turns among ``messages``: each inbound message whose previous message
    in its conversation is the business's (or that has none), annotated with ``wait`` (seconds
    until the business's next message, ``None`` while unanswered) and ``is_first`` (the
    conversation's first inbound message)."""
    previous = Message.objects.filter(_earlier()).order_by("-timestamp", "-pk").values("direction")[:1]
    reply = (
        Message.objects.filter(
            conversation=OuterRef("conversation"),
            direction=Message.Direction.OUTBOUND,
            timestamp__gte=OuterRef("timestamp"),
        )
        .order_by("timestamp")
        .values("timestamp")[:1]
    )
    return (
        messages.filter(direction=Message.Direction.INBOUND, conversation__isnull=False)
        # No previous message counts as the business's (one reference: one subquery to run).
        .annotate(previous_direction=Coalesce(Subquery(previous), Value(Message.Direction.OUTBOUND)))
        .filter(previous_direction=Message.Direction.OUTBOUND)
        .annotate(
            answered_at=Subquery(reply),
            is_first=~Exists(Message.objects.filter(_earlier(direction=Message.Direction.INBOUND))),
        )
        .annotate(wait=Seconds(F("answered_at"), F("timestamp")))
    )


def empty() -> Figures:
    figures: Figures = {name: 0 for name in ROLLUP_COUNTS}
    figures.update({name: 0.0 for name in ROLLUP_SECONDS})
    figures.update({name: {} for name in ROLLUP_BREAKDOWNS})
    return figures


def merge(many: Iterable[Figures]) -> Figures:
    total = empty()
    for figures in many:
        for name in ROLLUP_COUNTS + ROLLUP_SECONDS:
            total[name] += figures[name]
        for name in ROLLUP_BREAKDOWNS:
            add_counts(total[name], figures[name])
    return total


def add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


def raw_figures(
    organization: Organization, since: datetime, until: datetime, accounts: Any = None
) -> dict[int, Figures]:
    """The additive figures of ``[since, until)``, per account id, from the raw tables."""
    result: dict[int, Figures] = defaultdict(empty)
    messages = messages_between(organization, since, until, accounts)

    for account_id, direction, kind, status, n in (
        messages.values_list("account_id", "direction", "type", "status").annotate(n=Count("pk")).order_by()
    ):
        figures = result[account_id]
        figures["messages"] += n
        figures["inbound" if direction == Message.Direction.INBOUND else "outbound"] += n
        add_counts(figures["by_type"], {kind: n})
        if direction == Message.Direction.OUTBOUND:
            add_counts(figures["outbound_by_status"], {status: n})

    outbound = messages.filter(direction=Message.Direction.OUTBOUND)
    for account_id, code, n in (
        outbound.filter(status=Message.Status.FAILED)
        .values_list("account_id", "error_code")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        add_counts(result[account_id]["failures_by_code"], {str(code): n})

    # Template name from the stored content (``None`` when content is encrypted at rest).
    sent = outbound.filter(type="template").exclude(status=Message.Status.QUEUED)
    for account_id, name, total, read in (
        sent.annotate(template=KeyTextTransform("name", "content"))
        .values_list("account_id", "template")
        .annotate(n=Count("pk"), read=Count("pk", filter=Q(status__in=_READ)))
        .order_by()
    ):
        add_counts(result[account_id]["template_sent"], {name or "(unknown)": total})
        add_counts(result[account_id]["template_read"], {name or "(unknown)": read})

    for account_id, bucket, n, wait, first_n, first_wait in _turn_buckets(messages):
        figures = result[account_id]
        figures["turns"] += n
        figures["first_turns"] += first_n
        if bucket is not None:  # answered
            figures["answered"] += n
            figures["first_answered"] += first_n
            figures["wait_seconds"] += wait or 0.0
            figures["first_wait_seconds"] += first_wait or 0.0
            add_counts(figures["wait_histogram"], {str(bucket): n})
            if first_n:
                add_counts(figures["first_wait_histogram"], {str(bucket): first_n})

    # A 24-hour window opens with an inbound message that had none in the 24 hours before it.
    recent_inbound = Message.objects.filter(
        _earlier(direction=Message.Direction.INBOUND),
        timestamp__gt=OuterRef("timestamp") - SERVICE_WINDOW,
    )
    for account_id, windows, stored, store_seconds in (
        messages.filter(direction=Message.Direction.INBOUND)
        .annotate(opens=~Exists(recent_inbound), store_wait=Seconds(F("created_at"), F("timestamp")))
        .values_list("account_id")
        .annotate(
            windows=Count("pk", filter=Q(opens=True, conversation__isnull=False)),
            stored=Count("pk"),
            store_seconds=Sum("store_wait"),
        )
        .order_by()
    ):
        figures = result[account_id]
        figures["windows_opened"] += windows
        figures["store_latency_count"] += stored
        figures["store_latency_seconds"] += store_seconds or 0.0

    _count_into(
        result,
        "conversations_opened",
        Conversation.objects.filter(
            account__organization=organization, created_at__gte=since, created_at__lt=until
        ),
        accounts,
    )
    _count_into(
        result,
        "escalations",
        Escalation.objects.filter(organization=organization, created_at__gte=since, created_at__lt=until),
        accounts,
        account_path="conversation__account_id",
    )
    _count_into(
        result,
        "new_contacts",
        Contact.objects.filter(
            account__organization=organization, created_at__gte=since, created_at__lt=until
        ),
        accounts,
    )
    consents = ConsentRecord.objects.filter(
        contact__account__organization=organization, occurred_at__gte=since, occurred_at__lt=until
    )
    _count_into(
        result,
        "opt_ins",
        consents.filter(status=ConsentRecord.Status.GRANTED),
        accounts,
        "contact__account_id",
    )
    _count_into(
        result,
        "opt_outs",
        consents.filter(status=ConsentRecord.Status.REVOKED),
        accounts,
        "contact__account_id",
    )

    tickets = Ticket.objects.filter(organization=organization)
    created = tickets.filter(created_at__gte=since, created_at__lt=until)
    _count_into(result, "tickets_created", created, accounts)
    _count_into(result, "tickets_via_whatsapp", created.filter(message__isnull=False), accounts)
    resolved = tickets.filter(status__in=_RESOLVED, closed_at__gte=since, closed_at__lt=until)
    if accounts is not None:
        resolved = resolved.filter(account__in=accounts)
    for account_id, n, seconds in (
        resolved.annotate(took=Seconds(F("closed_at"), F("created_at")))
        .values_list("account_id")
        .annotate(n=Count("pk"), seconds=Sum("took"))
        .order_by()
    ):
        result[account_id]["tickets_resolved"] += n
        result[account_id]["resolution_seconds"] += seconds or 0.0

    webhooks = WebhookEvent.objects.filter(
        account__organization=organization, received_at__gte=since, received_at__lt=until
    )
    if accounts is not None:
        webhooks = webhooks.filter(account__in=accounts)
    for account_id, received, failed, processed, seconds in (
        webhooks.annotate(took=Seconds(F("processed_at"), F("received_at")))
        .values_list("account_id")
        .annotate(
            received=Count("pk"),
            failed=Count("pk", filter=Q(status=WebhookEvent.Status.FAILED)),
            processed=Count("took"),
            seconds=Sum("took"),
        )
        .order_by()
    ):
        figures = result[account_id]
        figures["webhooks_received"] += received
        figures["webhooks_failed"] += failed
        figures["process_latency_count"] += processed
        figures["process_latency_seconds"] += seconds or 0.0
    return dict(result)


def _count_into(
    result: dict[int, Figures],
    name: str,
    rows: QuerySet[Any],
    accounts: Any,
    account_path: str = "account_id",
) -> None:
    if accounts is not None:
        rows = rows.filter(**{f"{account_path.removesuffix('_id')}__in": accounts})
    for account_id, n in rows.values_list(account_path).annotate(n=Count("pk")).order_by():
        if account_id is not None:
            result[account_id][name] += n


def day_start(moment: datetime) -> datetime:
    """The UTC midnight at or before ``moment``."""
    from datetime import UTC

    moment = moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


ONE_DAY = timedelta(days=1)
