"""integrations, integrations/<id>, integrations/<id>/toggle, integrations/<id>/test, test."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ...models import BusinessAccount
from ...services import integrations
from ..base import ApiView, documented, ok
from ..errors import ApiError
from ..serializers.integrations import IntegrationSerializer

_TEST_ANSWER = inline_serializer(
    "ConnectionTest",
    {
        "success": serializers.BooleanField(),
        "ok": serializers.BooleanField(),
        "error": serializers.CharField(required=False),
    },
)


def _conflict(error: Exception) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", "The request is not valid.", {"phone_number_id": str(error)})


class IntegrationListView(ApiView):
    actions = {"GET": "read", "POST": "manage_integrations"}

    @documented(
        parameters=[
            OpenApiParameter("archived", bool),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=IntegrationSerializer(many=True),
    )
    def get(self, request: Any) -> Response:
        rows = self.scoped(BusinessAccount.objects.all())
        if request.query_params.get("archived") not in ("1", "true", "yes"):
            rows = rows.filter(archived_at__isnull=True)
        return self.paginate(rows.order_by("name", "pk"), IntegrationSerializer)

    @documented(request=IntegrationSerializer, responses={201: IntegrationSerializer})
    def post(self, request: Any) -> Response:
        body = IntegrationSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        try:
            account, verify_token = integrations.create_integration(self.organization, body.validated_data)
        except integrations.IntegrationConflict as error:
            raise _conflict(error) from None
        data = IntegrationSerializer(account, context={"request": request}).data
        # Shown this once: copy it into Meta's dashboard with the webhook URL.
        return ok({"integration": {**data, "verify_token": verify_token}}, status=201)


class IntegrationDetailView(ApiView):
    actions = {"GET": "read", "PATCH": "manage_integrations", "DELETE": "manage_integrations"}

    def account(self, pk: int) -> BusinessAccount:
        return self.get_scoped_object(BusinessAccount.objects.all(), pk=pk)

    @documented(responses=IntegrationSerializer)
    def get(self, request: Any, pk: int) -> Response:
        return ok({"integration": IntegrationSerializer(self.account(pk), context={"request": request}).data})

    @documented(request=IntegrationSerializer, responses=IntegrationSerializer)
    def patch(self, request: Any, pk: int) -> Response:
        account = self.account(pk)
        body = IntegrationSerializer(account, data=request.data, partial=True, context={"request": request})
        body.is_valid(raise_exception=True)
        try:
            account = integrations.update_integration(account, body.validated_data)
        except integrations.IntegrationConflict as error:
            raise _conflict(error) from None
        return ok({"integration": IntegrationSerializer(account, context={"request": request}).data})

    @documented(
        parameters=[OpenApiParameter("purge", bool, description="also delete its history")],
        responses=inline_serializer(
            "Deleted", {"success": serializers.BooleanField(), "result": serializers.CharField()}
        ),
    )
    def delete(self, request: Any, pk: int) -> Response:
        purge = request.query_params.get("purge") in ("1", "true", "yes")
        return ok({"result": integrations.delete_integration(self.account(pk), purge=purge)})


class IntegrationToggleView(ApiView):
    actions = {"POST": "manage_integrations"}

    @documented(request=None, responses=IntegrationSerializer)
    def post(self, request: Any, pk: int) -> Response:
        account = integrations.toggle_integration(
            self.get_scoped_object(BusinessAccount.objects.all(), pk=pk)
        )
        return ok({"integration": IntegrationSerializer(account, context={"request": request}).data})


class IntegrationTestView(ApiView):
    actions = {"POST": "manage_integrations"}

    @documented(request=None, responses=_TEST_ANSWER)
    def post(self, request: Any, pk: int | None = None) -> Response:
        if pk is None:
            from .messaging import account_for

            account = account_for(
                self, request.data.get("account") if isinstance(request.data, dict) else None
            )
        else:
            account = self.get_scoped_object(BusinessAccount.objects.all(), pk=pk)
        return ok(integrations.test_integration(account))
