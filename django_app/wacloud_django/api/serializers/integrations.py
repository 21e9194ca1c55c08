"""Integrations (seed 002): a business account as its admins see it. Secrets are
write-only; the verify token is shown once, in the answer that created it."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ...models import BusinessAccount
from ...services.integrations import webhook_url
from ...services.tokens import current_statuses


class IntegrationSerializer(serializers.ModelSerializer):
    phone_number = serializers.CharField(
        source="display_phone_number",
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="The number as people dial it, with country code.",
    )
    business_account_id = serializers.CharField(
        source="waba_id", required=False, allow_blank=True, max_length=64, help_text="The WABA id."
    )
    access_token = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=True
    )
    app_secret = serializers.CharField(write_only=True, required=False, allow_blank=True)
    verify_token = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="Generated when not given; shown once."
    )
    has_access_token = serializers.BooleanField(read_only=True)
    has_app_secret = serializers.BooleanField(read_only=True)
    webhook_url = serializers.SerializerMethodField()
    token_expires_at = serializers.SerializerMethodField(
        help_text="When the access token expires, from Meta's last debug_token (null: never, or not checked)."
    )
    token_valid = serializers.SerializerMethodField(
        help_text="Whether Meta accepted the token at the last check (null: not checked)."
    )

    class Meta:
        model = BusinessAccount
        fields = [
            "id",
            "name",
            "phone_number",
            "phone_number_id",
            "business_account_id",
            "app_id",
            "api_version",
            "is_active",
            "rate_limit_per_second",
            "rate_limit_per_hour",
            "access_token",
            "app_secret",
            "verify_token",
            "has_access_token",
            "has_app_secret",
            "webhook_url",
            "token_expires_at",
            "token_valid",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"phone_number_id": {"validators": []}}  # uniqueness: the service says which

    def get_webhook_url(self, account: BusinessAccount) -> str:
        return webhook_url(account, self.context.get("request"))

    def _token_status(self, account: BusinessAccount) -> Any:
        # The stored statuses (services/tokens.py) of a whole page in one query, on its first row.
        cache = self.context.setdefault("_token_statuses", {})
        if account.pk not in cache:
            rows = getattr(self.parent, "instance", None) if self.parent is not None else None
            cache.update(current_statuses(list(rows) if rows is not None else [account]))
        return cache.get(account.pk)

    def get_token_expires_at(self, account: BusinessAccount) -> str | None:
        status = self._token_status(account)
        return status.expires_at.isoformat() if status is not None and status.expires_at else None

    def get_token_valid(self, account: BusinessAccount) -> bool | None:
        status = self._token_status(account)
        return status.is_valid if status is not None else None

    def validate_phone_number_id(self, value: str) -> str:
        if not value.isdigit():
            raise serializers.ValidationError("the numeric phone number id from Meta's dashboard")
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not data.get("access_token"):
            raise serializers.ValidationError({"access_token": "required to create an integration"})
        return data
