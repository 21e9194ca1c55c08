"""analytics/meta (Meta's own daily figures of an account: sent, delivered, priced volume and
cost per pricing category and type, per-template figures) and analytics/meta/import (fetch
them from Meta again; admins). Our own figures are at analytics (docs/analytics.md)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ...models import MetaDailyFigures
from ...services import meta_analytics
from ..base import ApiView, documented, ok
from ..errors import ApiError
from .messaging import account_for


class MetaDaySerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.phone_number_id", read_only=True)

    class Meta:
        model = MetaDailyFigures
        fields = [
            "date", "account", "sent", "delivered", "volume", "cost", "currency",
            "by_pricing_category", "by_pricing_type", "templates", "imported_at",
        ]  # fmt: skip
        read_only_fields = fields


class ImportSerializer(serializers.Serializer):
    account = serializers.CharField(
        required=False, help_text="phone number id (default: the only active one)"
    )
    since = serializers.DateField(required=False, help_text="first UTC day (default: 6 days before until)")
    until = serializers.DateField(required=False, help_text="last UTC day (default: today)")


_SUMMARY = inline_serializer(
    "MetaSummary",
    {
        "days": serializers.IntegerField(),
        "sent": serializers.IntegerField(),
        "delivered": serializers.IntegerField(),
        "volume": serializers.IntegerField(),
        "cost": serializers.CharField(),
        "currency": serializers.CharField(),
    },
)


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(
            400, "VALIDATION_ERROR", "The request is not valid.", {name: "a date like 2026-01-31"}
        ) from None


class MetaAnalyticsView(ApiView):
    """The imported days of an account, oldest first, with their totals."""

    actions = {"GET": "read"}

    @documented(
        parameters=[
            OpenApiParameter("account", str),
            OpenApiParameter("since", str),
            OpenApiParameter("until", str),
        ],
        responses=inline_serializer(
            "MetaAnalytics",
            {
                "success": serializers.BooleanField(),
                "days": MetaDaySerializer(many=True),
                "summary": _SUMMARY,
            },
        ),
    )
    def get(self, request: Any) -> Response:
        account = account_for(self, request.query_params.get("account"))
        rows = self.scoped(MetaDailyFigures.objects.select_related("account")).filter(account=account)
        since, until = (
            _day(request.query_params.get("since"), "since"),
            _day(request.query_params.get("until"), "until"),
        )
        if since:
            rows = rows.filter(date__gte=since)
        if until:
            rows = rows.filter(date__lte=until)
        days = list(rows.order_by("date"))
        return ok({"days": MetaDaySerializer(days, many=True).data, "summary": meta_analytics.summary(days)})


class MetaAnalyticsImportView(ApiView):
    """Fetch an account's figures of some UTC days from Meta (at most 90), replacing those days."""

    actions = {"POST": "manage_integrations"}

    @documented(
        request=ImportSerializer,
        responses=inline_serializer(
            "MetaImported", {"success": serializers.BooleanField(), "summary": _SUMMARY}
        ),
    )
    def post(self, request: Any) -> Response:
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        account = account_for(self, data.get("account"))
        until = data.get("until") or timezone.now().date()
        since = data.get("since") or until - timedelta(days=6)
        try:
            rows = meta_analytics.import_range(account, since, until)
        except meta_analytics.RangeError as error:
            raise ApiError(
                400, "VALIDATION_ERROR", "The request is not valid.", {"since": str(error)}
            ) from None
        return ok({"summary": meta_analytics.summary(rows)})
