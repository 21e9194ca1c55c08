"""Importing Meta's own analytics of an account into ``MetaDailyFigures``, one row per UTC day:
messages sent and delivered (Meta's ``analytics``), priced messages and their cost per pricing
category and type (``pricing_analytics``), and per-template figures (``template_analytics``,
for the account's synced templates). Importing a range again replaces its rows, so a day
Meta revises is corrected by the next import. The ``whatsapp_import_meta_analytics`` command
and the API's ``analytics/meta/import`` call :func:`import_range`."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone as django_timezone

from ..log_privacy import get_logger
from ..models import BusinessAccount, MetaDailyFigures, Template
from .clients import client_for

logger = get_logger("wacloud.meta_analytics")

#: Meta's limit on template ids per template_analytics request.
TEMPLATE_BATCH = 10
#: How far back Meta keeps the figures asked for here.
MAX_DAYS = 90


class RangeError(ValueError):
    """The days asked are not a range Meta answers (end before start, or longer than 90 days)."""


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


def import_range(account: BusinessAccount, since: date, until: date) -> list[MetaDailyFigures]:
    """Meta's figures of every UTC day from ``since`` to ``until`` (both included), stored."""
    if until < since:
        raise RangeError("until must not be before since")
    if (until - since).days + 1 > MAX_DAYS:
        raise RangeError(f"Meta answers at most {MAX_DAYS} days at a time")
    client = client_for(account)
    start, end = _utc(since), _utc(until + timedelta(days=1))
    days: dict[date, dict[str, Any]] = {
        since + timedelta(days=n): _blank() for n in range((until - since).days + 1)
    }
    for point in client.get_messaging_analytics(start, end, granularity="DAY"):
        if point.start.date() in days:
            days[point.start.date()]["sent"] += point.sent
            days[point.start.date()]["delivered"] += point.delivered
    dimensions = ["PRICING_CATEGORY", "PRICING_TYPE"]
    for point in client.get_pricing_analytics(start, end, granularity="DAILY", dimensions=dimensions):
        day = days.get(point.start.date())
        if day is None:
            continue
        day["volume"] += point.volume
        day["cost"] += point.cost
        for key, value in (
            ("by_pricing_category", point.pricing_category),
            ("by_pricing_type", point.pricing_type),
        ):
            entry = day[key][value or "UNKNOWN"]
            entry["volume"] += point.volume
            entry["cost"] += point.cost
    names = _template_names(account)
    ids = sorted(names)
    for first in range(0, len(ids), TEMPLATE_BATCH):
        for point in client.get_template_analytics(ids[first : first + TEMPLATE_BATCH], start, end):
            day = days.get(point.start.date())
            if day is not None:
                day["templates"][point.template_id] = {
                    "name": names.get(point.template_id, ""),
                    "sent": point.sent,
                    "delivered": point.delivered,
                    "read": point.read,
                    "clicked": sum(count for _type, _text, count in point.clicked),
                    "cost": point.cost.get("amount_spent", 0.0),
                }
    currency = client.get_account_currency() or "USD"
    return _store(account, days, currency)


def import_recent(account: BusinessAccount, days: int = 7) -> list[MetaDailyFigures]:
    """The last ``days`` UTC days, today included (today's figures are partial until tomorrow)."""
    today = django_timezone.now().astimezone(timezone.utc).date()
    return import_range(account, today - timedelta(days=days - 1), today)


def import_all_recent(days: int = 7) -> dict[str, Any]:
    """:func:`import_recent` for every active account with a WABA id; one account's failure
    (Meta's error, a token it refuses) is counted and logged and never stops the others."""
    done: dict[str, Any] = {"accounts": 0, "days": 0, "failed": {}}
    for account in BusinessAccount.objects.filter(is_active=True).exclude(waba_id="").order_by("pk"):
        try:
            rows = import_recent(account, days)
        except Exception as error:
            logger.warning("Meta analytics import of account %s failed: %s", account.phone_number_id, error)
            done["failed"][account.phone_number_id] = f"{type(error).__name__}: {error}"
            continue
        done["accounts"] += 1
        done["days"] += len(rows)
    return done


def _blank() -> dict[str, Any]:
    def counter() -> dict[str, float]:
        return {"volume": 0, "cost": 0.0}

    return {
        "sent": 0, "delivered": 0, "volume": 0, "cost": 0.0,
        "by_pricing_category": defaultdict(counter), "by_pricing_type": defaultdict(counter),
        "templates": {},
    }  # fmt: skip


def _template_names(account: BusinessAccount) -> dict[str, str]:
    """The account's templates Meta knows by id (synced), id -> name."""
    rows = Template.objects.filter(account=account).exclude(template_id="").values_list("template_id", "name")
    return {template_id: name for template_id, name in rows if template_id.isdigit()}


def _breakdown(counts: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    return {
        key: {"volume": int(c["volume"]), "cost": f"{_money(c['cost']).normalize():f}"}
        for key, c in sorted(counts.items())
    }


def _store(
    account: BusinessAccount, days: dict[date, dict[str, Any]], currency: str
) -> list[MetaDailyFigures]:
    now = django_timezone.now()
    rows = [
        MetaDailyFigures(
            organization_id=account.organization_id,
            account=account,
            date=day,
            imported_at=now,
            sent=figures["sent"],
            delivered=figures["delivered"],
            volume=figures["volume"],
            cost=_money(figures["cost"]),
            currency=currency[:3],
            by_pricing_category=_breakdown(figures["by_pricing_category"]),
            by_pricing_type=_breakdown(figures["by_pricing_type"]),
            templates=figures["templates"],
        )
        for day, figures in sorted(days.items())
    ]
    with transaction.atomic():
        MetaDailyFigures.objects.filter(account=account, date__in=list(days)).delete()
        MetaDailyFigures.objects.bulk_create(rows)
    return rows


def summary(rows: list[MetaDailyFigures]) -> dict[str, Any]:
    """Totals of some days: what Meta counted and billed."""
    cost = sum((row.cost for row in rows), Decimal(0))
    return {
        "days": len(rows),
        "sent": sum(row.sent for row in rows),
        "delivered": sum(row.delivered for row in rows),
        "volume": sum(row.volume for row in rows),
        "cost": str(cost),
        "currency": rows[0].currency if rows else "",
    }
