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
from ...services import circuit, reports, tenancy
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
            OpenApiParameter("start_date", str, description="YYYY-MM-DD, a local day; default end_date - 29"),
            OpenApiParameter("end_date", str, description="YYYY-MM-DD, a local day; default today"),
            OpenApiParameter("tz", str, description="IANA time zone (alias: timezone), default UTC"),
            OpenApiParameter("account", str, description="one account's phone_number_id; default all"),
        ],
        responses=inline_serializer(
            "Analytics", {"success": serializers.BooleanField(), "analytics": serializers.DictField()}
        ),
    )
    def get(self, request: Any) -> Response:
        params = request.query_params
        name = "tz" if params.get("tz") else "timezone"
        tz = params.get(name) or "UTC"
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            details = {name: "an IANA time zone, e.g. Asia/Tokyo"}
            raise ApiError(400, "VALIDATION_ERROR", "The request is not valid.", details) from None
        today = timezone.now().astimezone(zone).date()
        end = _date(params.get("end_date"), "end_date", today)
        start = _date(params.get("start_date"), "start_date", end - timedelta(days=29))
        if start > end or (end - start).days > _MAX_DAYS:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                "The request is not valid.",
                {"start_date": f"on or before end_date, at most {_MAX_DAYS} days before it"},
            )
        account = None
        if params.get("account"):
            account = (
                tenancy.scoped(BusinessAccount.objects.all(), self.organization)
                .filter(phone_number_id=params["account"])
                .first()
            )
            if account is None:
                raise ApiError(
                    400, "VALIDATION_ERROR", "The request is not valid.",
                    {"account": "the phone_number_id of one of the organization's accounts"},
                )  # fmt: skip
        return ok({"analytics": reports.analytics(self.organization, start, end, tz, account=account)})


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
                    # Whether sends to Meta are being attempted (docs/operations.md, the circuit breaker).
                    "circuit": circuit.circuit_view(a),
                }
                for a in accounts.order_by("pk")[:100]
            ]
            answer["webhook_backlog"] = backlog.count()
        return ok(answer)
