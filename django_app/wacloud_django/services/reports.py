"""Figures for the API's ``analytics`` (seed 000) and ``stats`` (seed 004), per
organization, account and date range, computed by the database (aggregates, no loops over
rows). The work lives in ``analytics_figures`` (raw tables), ``analytics_rollup`` (the daily
rollup) and ``analytics_report`` (assembly); this module keeps the names the API views,
commands and pages call, so they all show the same numbers (docs/analytics.md).

Denominators are stated with each rate: delivery, read and failure rates are over the
outbound messages that left the outbox (``attempted``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet, Sum

from ..models import Contact, Message, Organization
from .analytics_figures import exact_percentiles, merge, raw_figures, turns
from .analytics_report import active_rows, analytics, day_range, message_figures, scoped_rows, stats

__all__ = ["analytics", "day_range", "message_stats", "response_times", "stats"]


def response_times(messages: QuerySet[Message]) -> dict[str, Any]:
    """The customer's turns among ``messages`` (an inbound message after a business
    message, or the conversation's first), how many were answered, and the average, median
    and 90th percentile wait until the business's next message, in seconds."""
    waits = turns(messages)
    summary = waits.aggregate(turns=Count("pk"), answered=Count("wait"), total=Sum("wait"))
    p50, p90 = exact_percentiles(waits, (0.5, 0.9))
    answered = summary["answered"]
    return {
        "turns": summary["turns"],
        "answered": answered,
        "average_seconds": round(summary["total"] / answered, 1) if answered else None,
        "p50_seconds": p50,
        "p90_seconds": p90,
    }


def message_stats(organization: Organization, since: datetime, until: datetime) -> dict[str, Any]:
    """Message counts and rates of ``[since, until)``, from the raw tables."""
    figures = merge(raw_figures(organization, since, until).values())
    unique = active_rows(scoped_rows(Contact, organization, None), "contact", since, until).count()
    return message_figures(figures, unique)
