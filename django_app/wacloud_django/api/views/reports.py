"""analytics (seed 000: ``start_date``, ``end_date``), stats (seed 004: ``days``), audit,
health."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ...models import AuditEntry, BusinessAccount, WebhookEvent
from ...services import reports, tenancy
from ..base import ApiView, documented, ok
from ..errors import ApiError
from ..serializers.resources import AuditEntrySerializer

_MAX_DAYS = 3660


def _date(value: str | None, name: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(
            400, "VALIDATION_ERROR", "The request is not valid.", {name: "a date like 2024-01-31"}
        ) from None


class AnalyticsView(ApiView):
    @documented(
        parameters=[
            OpenApiParameter("start_date", str),
            OpenApiParameter("end_date", str),
            OpenApiParameter("timezone", str, description="IANA name, default UTC"),
        ],
        responses=inline_serializer(
            "Analytics", {"success": serializers.BooleanField(), "analytics": serializers.DictField()}
        ),
    )
    def get(self, request: Any) -> Response:
        today = timezone.now().date()
        end = _date(request.query_params.get("end_date"), "end_date", today)
        start = _date(request.query_params.get("start_date"), "start_date", end - timedelta(days=29))
        tz = request.query_params.get("timezone") or "UTC"
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ApiError(
                400, "VALIDATION_ERROR", "The request is not valid.", {"timezone": "an IANA time zone"}
            ) from None
        if start > end or (end - start).days > _MAX_DAYS:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                "The request is not valid.",
                {"start_date": f"on or before end_date, at most {_MAX_DAYS} days before it"},
            )
        return ok({"analytics": reports.analytics(self.organization, start, end, tz)})


class StatsView(ApiView):
    @documented(
        parameters=[OpenApiParameter("days", int, description="default 30")],
        responses=inline_serializer(
            "Stats", {"success": serializers.BooleanField(), "stats": serializers.DictField()}
        ),
    )
    def get(self, request: Any) -> Response:
        raw = request.query_params.get("days", "30")
        if not raw.isdigit() or not 1 <= int(raw) <= _MAX_DAYS:
            raise ApiError(
                400, "VALIDATION_ERROR", "The request is not valid.", {"days": f"1 to {_MAX_DAYS}"}
            )
        return ok({"stats": reports.stats(self.organization, int(raw))})


class AuditView(ApiView):
    actions = {"GET": "read_audit"}

    @documented(
        parameters=[
            OpenApiParameter("action", str),
            OpenApiParameter("object_type", str),
            OpenApiParameter("object_id", str),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=AuditEntrySerializer(many=True),
    )
    def get(self, request: Any) -> Response:
        rows = self.scoped(AuditEntry.objects.all())
        for name in ("action", "object_type", "object_id"):
            if request.query_params.get(name):
                rows = rows.filter(**{name: request.query_params[name]})
        return self.paginate(rows.order_by("-created_at", "-pk"), AuditEntrySerializer)


class HealthView(ApiView):
    """Anyone gets ``{"success": true, "status": "ok"}`` (the database answered); a member
    also gets their organization's accounts and webhook backlog."""

    needs_organization = False
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []

    @documented(
        responses=inline_serializer(
            "Health", {"success": serializers.BooleanField(), "status": serializers.CharField()}
        )
    )
    def get(self, request: Any) -> Response:
        WebhookEvent.objects.exists()  # the database answers, or this raises (500)
        answer: dict[str, Any] = {"status": "ok", "time": timezone.now().isoformat()}
        user = request.user
        if user is not None and user.is_authenticated:
            try:
                organization = tenancy.choose_organization(user, request.headers.get("X-Organization"))
            except tenancy.OrganizationRequired:
                return ok(answer)
            accounts = tenancy.scoped(BusinessAccount.objects.all(), organization).filter(
                archived_at__isnull=True
            )
            backlog = tenancy.scoped(WebhookEvent.objects.all(), organization).filter(
                status=WebhookEvent.Status.PENDING
            )
            answer["organization"] = organization.slug
            answer["accounts"] = [
                {
                    "phone_number_id": a.phone_number_id,
                    "name": a.name,
                    "active": a.is_active,
                    "has_access_token": a.has_access_token,
                }
                for a in accounts.order_by("pk")[:100]
            ]
            answer["webhook_backlog"] = backlog.count()
        return ok(answer)
