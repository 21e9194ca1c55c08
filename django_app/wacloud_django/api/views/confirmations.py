"""confirmation (seed 003's ``POST .../confirmation``), confirmations, confirmations/<id>,
confirmations/<id>/cancel: Y/N questions put to a contact (docs/automation.md). Asking
and cancelling need the ``reply`` role (as free-form sends do), reading ``read``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from ...automation.services import confirmations as service
from ...models import Confirmation, Contact
from ..base import ApiView, documented, ok
from ..errors import ApiError
from .messaging import account_for


class ConfirmationRequestSerializer(serializers.Serializer):
    """Seed 003's body, plus who to ask: ``recipient`` (a number) or ``contact`` (an id)."""

    action_type = serializers.CharField(
        max_length=100, help_text="Your kind of action, e.g. calendar_create."
    )
    action_description = serializers.CharField(max_length=500, help_text="e.g. schedule a meeting with John")
    action_details = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="e.g. tomorrow at 3 PM"
    )
    timeout_minutes = serializers.IntegerField(
        required=False, min_value=1, help_text='Default: WACLOUD["CONFIRMATIONS"]["DEFAULT_TIMEOUT_MINUTES"].'
    )
    payload = serializers.DictField(required=False, default=dict, help_text="Handed back on resolution.")
    recipient = serializers.CharField(required=False, max_length=64, help_text="The contact's number.")
    contact = serializers.IntegerField(required=False, help_text="The contact's id (instead of recipient).")
    account = serializers.CharField(
        required=False, help_text="Phone number id of the asking account (default: the only active one)."
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if ("recipient" in data) == ("contact" in data):
            raise serializers.ValidationError({"recipient": "give recipient (a number) or contact (an id)"})
        return data


class ConfirmationSerializer(serializers.ModelSerializer):
    action_description = serializers.CharField(source="description")
    action_details = serializers.CharField(source="details")
    wa_id = serializers.CharField(source="contact.wa_id")
    account = serializers.CharField(source="account.phone_number_id")
    request_wamid = serializers.CharField(source="request_message.wamid", default=None)
    reply_text = serializers.CharField(source="reply_message.text", default=None)
    requested_by = serializers.CharField(source="requested_by.get_username", default=None)

    class Meta:
        model = Confirmation
        fields = ["id", "status", "action_type", "action_description", "action_details", "payload",
                  "timeout_minutes", "contact", "wa_id", "account", "requested_at", "sent_at", "expires_at",
                  "resolved_at", "request_message", "request_wamid", "reply_message", "reply_text",
                  "requested_by", "error"]  # fmt: skip


_ROWS = Confirmation.objects.select_related(
    "contact", "account", "organization", "request_message", "reply_message", "requested_by"
)


class ConfirmationRequestView(ApiView):
    actions = {"POST": "reply"}

    @documented(request=ConfirmationRequestSerializer, responses={201: ConfirmationSerializer})
    def post(self, request: Any) -> Response:
        """Ask a contact to confirm an action: reply buttons inside the 24-hour window, the
        ``confirmation_request`` template outside it; ``queued`` while they have one pending."""
        body = ConfirmationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "contact" in data:
            contact = self.get_scoped_object(Contact.objects.select_related("account"), pk=data["contact"])
            account = contact.account
        else:
            account = account_for(self, data.get("account"))
            contact = service.contact_for_recipient(account, data["recipient"])
        confirmation = service.request_confirmation(
            contact, data["action_type"], data["action_description"], data["action_details"],
            data.get("timeout_minutes"), data["payload"], account=account, requested_by=request.user,
        )  # fmt: skip
        return ok({"confirmation": ConfirmationSerializer(confirmation).data}, status=201)


class ConfirmationListView(ApiView):
    @documented(
        parameters=[
            OpenApiParameter("status", str, enum=Confirmation.Status.values),
            OpenApiParameter("contact", int, description="contact id"),
            OpenApiParameter("action_type", str),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=ConfirmationSerializer(many=True),
    )
    def get(self, request: Any) -> Response:
        """The organization's confirmations, newest first."""
        params = request.query_params
        rows = self.scoped(_ROWS.all())
        if params.get("status"):
            if params["status"] not in Confirmation.Status.values:
                raise serializers.ValidationError(
                    {"status": f"must be one of {', '.join(Confirmation.Status.values)}"}
                )
            rows = rows.filter(status=params["status"])
        if params.get("contact"):
            if not params["contact"].isdigit():
                raise serializers.ValidationError({"contact": "must be a contact id"})
            rows = rows.filter(contact_id=int(params["contact"]))
        if params.get("action_type"):
            rows = rows.filter(action_type=params["action_type"])
        return self.paginate(rows.order_by("-requested_at", "-pk"), ConfirmationSerializer)


class ConfirmationDetailView(ApiView):
    @documented(responses=ConfirmationSerializer)
    def get(self, request: Any, pk: int) -> Response:
        confirmation = self.get_scoped_object(_ROWS.all(), pk=pk)
        return ok({"confirmation": ConfirmationSerializer(confirmation).data})


class ConfirmationCancelView(ApiView):
    actions = {"POST": "reply"}

    @documented(request=None, responses=ConfirmationSerializer)
    def post(self, request: Any, pk: int) -> Response:
        """Withdraw a pending or queued confirmation (409 ``CONFIRMATION_RESOLVED`` once it is
        answered or expired). The contact is not messaged; their next queued one is asked."""
        confirmation = self.get_scoped_object(_ROWS.all(), pk=pk)
        try:
            service.cancel_confirmation(confirmation, actor=request.user)
        except service.ConfirmationResolved as resolved:
            raise ApiError(409, "CONFIRMATION_RESOLVED", str(resolved), {"status": resolved.status}) from None
        confirmation = _ROWS.get(pk=confirmation.pk)
        return ok({"confirmation": ConfirmationSerializer(confirmation).data})
