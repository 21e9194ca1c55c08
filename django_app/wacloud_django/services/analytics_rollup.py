"""The daily rollup (docs/analytics.md): the additive figures of each account's UTC day,
written by the ``rollup_analytics`` beat task (recent days) and the ``whatsapp_rollup``
command (any range), and read by the analytics report for full past days.

Building a day is idempotent: it recomputes the day from the raw tables and replaces all
of the organization's rows for it in one transaction, writing a row for every account
(empty ones too), so a day with any row for an organization is complete for it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ..analytics_models import ROLLUP_BREAKDOWNS, ROLLUP_COUNTS, ROLLUP_ID_SETS, ROLLUP_SECONDS, DailyRollup
from ..conf import get_setting, setting_name
from ..exceptions import SettingError
from ..log_privacy import get_logger
from ..models import BusinessAccount, Organization
from .analytics_figures import Figures, add_counts, empty, raw_figures
from .analytics_people import pack, raw_id_sets

logger = get_logger(__name__)


def utc_day(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, UTC)
    return start, start + timedelta(days=1)


def build_day(organization: Organization, day: date) -> int:
    """Recompute ``organization``'s rows for the UTC ``day``; returns the rows written."""
    since, until = utc_day(day)
    per_account = raw_figures(organization, since, until)
    id_sets = raw_id_sets(organization, since, until)
    accounts = list(BusinessAccount.objects.filter(organization=organization).values_list("pk", flat=True))
    now = timezone.now()
    rows = []
    for account_id in accounts:
        sets = id_sets.get(account_id, {})
        packed = {name: pack(sets.get(name, ())) for name in ROLLUP_ID_SETS}
        rows.append(DailyRollup(organization=organization, account_id=account_id, date=day, built_at=now,
                                **per_account.get(account_id, empty()), **packed))  # fmt: skip
    with transaction.atomic():
        DailyRollup.objects.filter(organization=organization, date=day).delete()
        DailyRollup.objects.bulk_create(rows)
    return len(rows)


def rebuild(since: date, until: date, organization: Organization | None = None) -> dict[str, int]:
    """Rebuild every UTC day in ``since..until`` (inclusive) for one organization or all;
    one organization's failure is logged and does not stop the others."""
    if since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    organizations = [organization] if organization else list(Organization.objects.order_by("pk"))
    written = days = failed = 0
    day = since
    while day <= until:
        for item in organizations:
            try:
                written += build_day(item, day)
            except Exception:
                failed += 1
                logger.exception("analytics rollup of %s for %s failed", item, day)
        days += 1
        day += timedelta(days=1)
    return {"days": days, "organizations": len(organizations), "rows": written, "failed": failed}


def rollup_recent(now: datetime | None = None) -> dict[str, int]:
    """The beat task's work: for each organization, rebuild from a few days before its last
    rolled-up day (``WACLOUD["ANALYTICS"]["ROLLUP_REFRESH_DAYS"]``, so late statuses and
    replies land) through yesterday (UTC). An organization never rolled up starts that many
    days back; older history is ``whatsapp_rollup``'s."""
    now = now or timezone.now()
    yesterday = now.astimezone(UTC).date() - timedelta(days=1)
    refresh = get_setting("ANALYTICS")["ROLLUP_REFRESH_DAYS"]
    if isinstance(refresh, bool) or not isinstance(refresh, int) or refresh < 1:
        name = setting_name("ANALYTICS", "ROLLUP_REFRESH_DAYS")
        raise SettingError("ANALYTICS", f"{name} must be a whole number of days, 1 or more, got {refresh!r}")
    totals = {"days": 0, "organizations": 0, "rows": 0, "failed": 0}
    for organization in Organization.objects.order_by("pk"):
        latest = (
            DailyRollup.objects.filter(organization=organization)
            .order_by("-date")
            .values_list("date", flat=True)
            .first()
        )
        start = min(latest or yesterday, yesterday) - timedelta(days=refresh - 1)
        done = rebuild(start, yesterday, organization)
        for key in ("days", "rows", "failed"):
            totals[key] += done[key]
        totals["organizations"] += 1
    return totals


def rolled_up_days(organization: Organization, first: date, last: date) -> set[date]:
    """The UTC days in ``first..last`` that have rows for ``organization``."""
    rows = DailyRollup.objects.filter(organization=organization, date__gte=first, date__lte=last)
    return set(rows.order_by().values_list("date", flat=True).distinct())


def rolled_up_figures(organization: Organization, days: set[date], accounts: Any = None) -> Figures:
    """The sum of the rows of ``days`` (the counts and seconds added by the database, the
    breakdowns merged here: one small dict per account and day)."""
    figures = empty()
    if not days:
        return figures
    rows = DailyRollup.objects.filter(organization=organization, date__gte=min(days), date__lte=max(days))
    if len(days) != (max(days) - min(days)).days + 1:
        rows = rows.filter(date__in=days)
    if accounts is not None:
        rows = rows.filter(account__in=accounts)
    sums = rows.aggregate(**{name: Sum(name) for name in ROLLUP_COUNTS + ROLLUP_SECONDS})
    for name, value in sums.items():
        figures[name] = value or figures[name]
    for breakdowns in rows.order_by().values_list(*ROLLUP_BREAKDOWNS):
        for name, counts in zip(ROLLUP_BREAKDOWNS, breakdowns, strict=True):
            add_counts(figures[name], counts)
    return figures
