"""The monitor report (what ``whatsapp_monitor`` prints) and the account health check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Avg, Count, F, Min, Q, QuerySet
from django.utils import timezone

from ..models import BusinessAccount, Message, RateLimitUsage, Template, WebhookEvent
from .analytics_figures import Seconds
from .clients import client_for, rate_limit_for
from .reports import response_times

_DELIVERED = (Message.Status.DELIVERED, Message.Status.READ, Message.Status.PLAYED)
_READ = (Message.Status.READ, Message.Status.PLAYED)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def outbound_rates(outbound: QuerySet[Message]) -> dict[str, Any]:
    """Outbound messages by status, and the delivery, read and failure rates over one
    denominator, ``attempted``: those that left the outbox (any status but ``queued``).
    A read message was delivered; rates are ``None`` when nothing was attempted."""
    by_status = dict(outbound.values_list("status").annotate(n=Count("pk")).order_by())
    attempted = sum(n for status, n in by_status.items() if status != Message.Status.QUEUED)
    delivered = sum(by_status.get(status, 0) for status in _DELIVERED)
    read = sum(by_status.get(status, 0) for status in _READ)
    return {
        "by_status": by_status,
        "attempted": attempted,
        "delivery_rate": _rate(delivered, attempted),
        "read_rate": _rate(read, attempted),
        "failure_rate": _rate(by_status.get(Message.Status.FAILED, 0), attempted),
    }


def monitor_report(hours: int = 24, account: BusinessAccount | None = None) -> dict[str, Any]:
    """Delivery, read and failure rates of the last ``hours``, the webhook backlog
    and failures, this hour's sends against the rate limits, and template
    statuses, as plain JSON-ready data.

    Every rate has one denominator, ``attempted``: the outbound messages of the
    period that left the outbox (any status but ``queued``). ``delivery_rate``
    counts those delivered, read or played (a read message was delivered);
    ``read_rate`` those read or played; ``failure_rate`` those failed. Rates
    are ``None`` when nothing was attempted."""
    if hours <= 0:
        raise ValueError(f"hours must be positive, got {hours}")
    now = timezone.now()
    since = now - timedelta(hours=hours)
    messages = Message.objects.filter(created_at__gte=since)
    webhooks = WebhookEvent.objects.all()
    accounts = BusinessAccount.objects.all()
    templates = Template.objects.all()
    if account is not None:
        messages, webhooks = messages.filter(account=account), webhooks.filter(account=account)
        accounts, templates = accounts.filter(pk=account.pk), templates.filter(waba_id=account.waba_id)

    outbound = messages.filter(direction=Message.Direction.OUTBOUND)
    rates = outbound_rates(outbound)
    by_status = rates["by_status"]
    failures = outbound.filter(status=Message.Status.FAILED)
    top_errors = [
        {"code": code, "title": title, "count": n}
        for code, title, n in failures.values_list("error_code", "error_title")
        .annotate(n=Count("pk"))
        .order_by("-n")[:5]
    ]

    recent_hooks = webhooks.filter(received_at__gte=since)
    latency = {
        # Meta's timestamp -> stored (inbound messages), stored -> processed (webhook bodies).
        "meta_to_stored_seconds": messages.filter(direction=Message.Direction.INBOUND)
        .annotate(took=Seconds(F("created_at"), F("timestamp")))
        .aggregate(average=Avg("took"))["average"],
        "stored_to_processed_seconds": recent_hooks.annotate(
            took=Seconds(F("processed_at"), F("received_at"))
        ).aggregate(average=Avg("took"))["average"],
    }
    backlog = webhooks.filter(status__in=[WebhookEvent.Status.PENDING, WebhookEvent.Status.PROCESSING])
    oldest = backlog.aggregate(oldest=Min("received_at"))["oldest"]

    hour = now.replace(minute=0, second=0, microsecond=0)
    usage = dict(
        RateLimitUsage.objects.filter(window=RateLimitUsage.Window.HOUR, window_start=hour).values_list(
            "account_id", "count"
        )
    )
    rate_limits = []
    for item in accounts.order_by("pk"):
        limits = rate_limit_for(item)
        sent = usage.get(item.pk, 0)
        rate_limits.append(
            {
                "account": item.phone_number_id,
                "per_second": limits["per_second"],
                "per_hour": limits["per_hour"],
                "backend": limits["backend"],
                "sent_this_hour": sent,
                "hour_usage": _rate(sent, limits["per_hour"]) if limits["per_hour"] else None,
            }
        )

    return {
        "generated_at": now.isoformat(),
        "hours": hours,
        "account": account.phone_number_id if account else None,
        "outbound": {
            "total": sum(by_status.values()),
            "by_status": dict(sorted(by_status.items())),
            "attempted": rates["attempted"],
            "delivery_rate": rates["delivery_rate"],
            "read_rate": rates["read_rate"],
            "failure_rate": rates["failure_rate"],
            "queued": by_status.get(Message.Status.QUEUED, 0),
            "delivery_unknown": failures.filter(failure_kind=Message.SendFailure.UNKNOWN).count(),
            "retriable_failures": failures.filter(failure_kind=Message.SendFailure.RETRIABLE).count(),
            "top_errors": top_errors,
        },
        "inbound": {"total": messages.filter(direction=Message.Direction.INBOUND).count()},
        # The customer's turns of the period and the business's replies (docs/analytics.md).
        "response_time": response_times(messages),
        "webhooks": {
            "received": recent_hooks.count(),
            "failed": recent_hooks.filter(status=WebhookEvent.Status.FAILED).count(),
            "failed_total": webhooks.filter(status=WebhookEvent.Status.FAILED).count(),
            "backlog": backlog.count(),
            "oldest_backlog_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
            **{name: None if value is None else round(value, 1) for name, value in latency.items()},
        },
        "rate_limits": rate_limits,
        "templates": dict(sorted(templates.values_list("status").annotate(n=Count("pk")).order_by())),
        "accounts": {
            "total": accounts.count(),
            "active": accounts.filter(is_active=True).count(),
            "without_token": accounts.filter(Q(access_token_encrypted="")).count(),
        },
    }


def account_health(account: BusinessAccount) -> dict[str, Any]:
    """Ask Meta about the account's number (the connection test). Raises the
    client's typed error (e.g. :class:`wacloud.AuthenticationError`) on failure."""
    info = client_for(account).get_phone_number()
    return {
        "phone_number_id": account.phone_number_id,
        "display_phone_number": info.get("display_phone_number", ""),
        "verified_name": info.get("verified_name", ""),
        "quality_rating": info.get("quality_rating", ""),
        "messaging_limit_tier": info.get("messaging_limit_tier", ""),
        "throughput": (info.get("throughput") or {}).get("level", ""),
    }


def business_profile(account: BusinessAccount) -> dict[str, Any]:
    return client_for(account).get_business_profile()


def remote_templates(account: BusinessAccount) -> list[dict[str, Any]]:
    """The templates Meta holds for the account's WABA (not the stored copies)."""
    return client_for(account).list_templates()
