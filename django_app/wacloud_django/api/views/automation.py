"""workflows/automate (seed 000): create (``manage_automation``) and list (``read``) the
organization's customer support rules. The other workflow types seed 000 names answer
400 ``NOT_SUPPORTED_YET``: they are not built."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.response import Response

from ...automation.services import support
from ...models import BusinessAccount, Membership, Role, SupportRule
from ..base import ApiView, documented, ok
from ..errors import ApiError
from . import campaigns as campaign_views
from . import schedules

_TYPES = (*support.SUPPORTED_TYPES, *support.NOT_SUPPORTED_TYPES)


class SupportParametersSerializer(serializers.Serializer):
    trigger_keywords = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list, max_length=100
    )
    auto_response = serializers.CharField(required=False, allow_blank=True, max_length=4096, default="")
    escalate_conditions = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list, max_length=100
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    cooldown_seconds = serializers.IntegerField(required=False, min_value=0, max_value=30 * 24 * 3600)
    webhook_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    business_hours = serializers.DictField(required=False)
    away_message = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    escalate_to = serializers.IntegerField(required=False, help_text="user id of an agent (or above)")

    def validate_business_hours(self, value: dict[str, Any]) -> dict[str, Any]:
        try:
            return support.validate_business_hours(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("trigger_keywords") and not data.get("escalate_conditions"):
            raise serializers.ValidationError("give trigger_keywords, escalate_conditions or both")
        if data.get("trigger_keywords") and not data.get("auto_response"):
            raise serializers.ValidationError({"auto_response": "required with trigger_keywords"})
        return data


class AutomateSerializer(serializers.Serializer):
    type = serializers.CharField()
    parameters = serializers.DictField()
    account = serializers.CharField(required=False, help_text="phone number id: the rule applies to it only")


class SupportRuleSerializer(serializers.ModelSerializer):
    type = serializers.SerializerMethodField()
    account = serializers.SlugRelatedField(slug_field="phone_number_id", read_only=True)

    class Meta:
        model = SupportRule
        fields = ["id", "type", "name", "account", "is_active", "trigger_keywords", "auto_response",
                  "escalate_conditions", "cooldown_seconds", "escalate_to", "webhook_url", "business_hours",
                  "away_message", "created_at", "updated_at"]  # fmt: skip

    def get_type(self, rule: SupportRule) -> str:
        return "customer_support"


class AutomateView(ApiView):
    actions = {"GET": "read", "HEAD": "read", "POST": "manage_automation"}

    @documented(responses=SupportRuleSerializer(many=True))
    def get(self, request: Any) -> Response:
        if request.query_params.get("type") == "appointment_reminder":
            return schedules.list_reminder_policies(self)
        if request.query_params.get("type") == "marketing_campaign":
            return campaign_views.list_campaigns(self, request)
        rows = self.scoped(SupportRule.objects.select_related("account")).order_by("pk")
        return self.paginate(rows, SupportRuleSerializer)

    @documented(request=AutomateSerializer, responses={201: SupportRuleSerializer})
    def post(self, request: Any) -> Response:
        body = AutomateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kind = body.validated_data["type"]
        if kind in support.NOT_SUPPORTED_TYPES:
            raise ApiError(
                400, "NOT_SUPPORTED_YET",
                f"Workflow type '{kind}' is not supported yet; only 'customer_support' is built.",
                {"type": kind, "supported": list(support.SUPPORTED_TYPES)},
            )  # fmt: skip
        if kind not in support.SUPPORTED_TYPES:
            raise serializers.ValidationError({"type": f"must be one of {', '.join(_TYPES)}"})
        if kind == "appointment_reminder":
            return schedules.create_reminder_policy(self, request, body.validated_data)
        if kind == "marketing_campaign":
            return campaign_views.create_from_workflow(self, request, body.validated_data)
        parameters = SupportParametersSerializer(data=body.validated_data["parameters"])
        parameters.is_valid(raise_exception=True)
        data = dict(parameters.validated_data)
        if data.get("escalate_to") is not None:
            data["escalate_to"] = self._agent(data["escalate_to"])
        account = None
        if body.validated_data.get("account"):
            account = self.get_scoped_object(
                BusinessAccount.objects.all(), phone_number_id=body.validated_data["account"]
            )
        rule = support.create_support_rule(self.organization, data, actor=request.user, account=account)
        return ok(
            {"workflow": SupportRuleSerializer(rule).data, "webhook_secret": rule.webhook_secret}, status=201
        )

    def _agent(self, user_id: int) -> Any:
        """A member of this organization who may reply (agent or above); anyone else is invalid."""
        membership = (
            Membership.objects.filter(organization=self.organization, user_id=user_id)
            .exclude(role=Role.VIEWER)
            .select_related("user")
            .first()
        )
        if membership is None:
            raise serializers.ValidationError({"escalate_to": "not an agent of this organization"})
        return membership.user
