"""integrations/<id>/rotate-token: replace an account's access token (admins)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ...models import BusinessAccount
from ...services import tokens
from ..base import ApiView, documented, ok
from ..errors import ApiError
from ..serializers.integrations import IntegrationSerializer


class RotateTokenSerializer(serializers.Serializer):
    access_token = serializers.CharField(
        write_only=True,
        trim_whitespace=True,
        help_text="The new token; checked with Meta before it is stored.",
    )


_TOKEN_STATUS = inline_serializer(
    "AccessTokenStatus",
    {
        "checked": serializers.BooleanField(),
        "checked_at": serializers.DateTimeField(required=False),
        "valid": serializers.BooleanField(required=False),
        "type": serializers.CharField(required=False),
        "expires_at": serializers.DateTimeField(required=False, allow_null=True),
        "days_left": serializers.IntegerField(required=False, allow_null=True),
        "missing_permissions": serializers.ListField(child=serializers.CharField(), required=False),
        "error": serializers.CharField(required=False),
    },
)


class IntegrationRotateTokenView(ApiView):
    """Check the new token with Meta's debug_token (valid, not expired, both WhatsApp
    permissions, the account's WABA), then store it; a refused token leaves the stored
    one in place (400 TOKEN_REJECTED, ``details.reason`` says why)."""

    actions = {"POST": "manage_integrations"}

    @documented(
        request=RotateTokenSerializer,
        responses=inline_serializer(
            "TokenRotated",
            {
                "success": serializers.BooleanField(),
                "integration": IntegrationSerializer(),
                "token": _TOKEN_STATUS,
            },
        ),
    )
    def post(self, request: Any, pk: int) -> Response:
        account = self.get_scoped_object(BusinessAccount.objects.all(), pk=pk)
        body = RotateTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            status = tokens.rotate_access_token(
                account, body.validated_data["access_token"], actor=request.user
            )
        except tokens.TokenRejected as error:
            raise ApiError(
                400, "TOKEN_REJECTED", str(error), {"access_token": str(error), "reason": error.reason}
            ) from None
        return ok(
            {
                "integration": IntegrationSerializer(account, context={"request": request}).data,
                "token": tokens.describe(status),
            }
        )
