"""An integration's number at Meta (admins): integrations/<id>/register, /deregister,
/request-code, /verify-code, /pin, /subscription, /phone-numbers and /qr-codes; and the block
list: contacts/<id>/block (agents) and integrations/<id>/blocked. Each view calls one service
(services/numbers.py, services/blocking.py); Meta's refusals come back as its error codes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ...models import BusinessAccount, Contact
from ...services import blocking as blocking_service
from ...services import numbers
from ..base import ApiView, documented, ok
from ..errors import ApiError
from ..serializers.resources import ContactSerializer

_PIN = serializers.RegexField(r"^[0-9]{6}$", help_text="6 digits")
_DONE = inline_serializer("Done", {"success": serializers.BooleanField()})


class QrCodeAnswerSerializer(serializers.Serializer):
    code = serializers.CharField()
    prefilled_message = serializers.CharField()
    deep_link_url = serializers.URLField()
    qr_image_url = serializers.URLField(allow_null=True)


_QR = inline_serializer(
    "QrCodeAnswer", {"success": serializers.BooleanField(), "qr_code": QrCodeAnswerSerializer()}
)
_IMAGE_FORMAT = OpenApiParameter("image_format", str, enum=["PNG", "SVG"])


class RegisterSerializer(serializers.Serializer):
    pin = _PIN
    data_localization_region = serializers.CharField(required=False, max_length=2)


class RequestCodeSerializer(serializers.Serializer):
    code_method = serializers.ChoiceField(["SMS", "VOICE"], default="SMS")
    language = serializers.RegexField(r"^[a-z]{2}_[A-Z]{2}$", default="en_US")


class VerifyCodeSerializer(serializers.Serializer):
    code = _PIN


class PinSerializer(serializers.Serializer):
    pin = _PIN


class SubscriptionSerializer(serializers.Serializer):
    override_callback_uri = serializers.URLField(required=False)
    verify_token = serializers.CharField(required=False, max_length=512)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if ("override_callback_uri" in data) != ("verify_token" in data):
            raise serializers.ValidationError("override_callback_uri and verify_token go together.")
        return data


class QrCodeWriteSerializer(serializers.Serializer):
    prefilled_message = serializers.CharField(max_length=140)
    image_format = serializers.ChoiceField(["PNG", "SVG"], required=False)


class _AccountView(ApiView):
    actions = {"GET": "manage_integrations", "POST": "manage_integrations", "DELETE": "manage_integrations",
               "PATCH": "manage_integrations"}  # fmt: skip

    def account(self, pk: int) -> BusinessAccount:
        return self.get_scoped_object(BusinessAccount.objects.all(), pk=pk)

    def body(self, serializer: type[serializers.Serializer]) -> dict[str, Any]:
        checked = serializer(data=self.request.data)
        checked.is_valid(raise_exception=True)
        return dict(checked.validated_data)


class RegisterView(_AccountView):
    """Register the number with Cloud API; ``pin`` becomes its two-step PIN if none is set."""

    @documented(request=RegisterSerializer, responses=_DONE)
    def post(self, request: Any, pk: int) -> Response:
        data = self.body(RegisterSerializer)
        numbers.register(self.account(pk), data["pin"], data.get("data_localization_region"))
        return ok()


class DeregisterView(_AccountView):
    """Take the number off Cloud API: it sends and receives nothing until registered again."""

    @documented(request=None, responses=_DONE)
    def post(self, request: Any, pk: int) -> Response:
        numbers.deregister(self.account(pk))
        return ok()


class RequestCodeView(_AccountView):
    """Have Meta send the number a verification code by SMS or voice call."""

    @documented(request=RequestCodeSerializer, responses=_DONE)
    def post(self, request: Any, pk: int) -> Response:
        data = self.body(RequestCodeSerializer)
        numbers.request_code(self.account(pk), data["code_method"], data["language"])
        return ok()


class VerifyCodeView(_AccountView):
    @documented(request=VerifyCodeSerializer, responses=_DONE)
    def post(self, request: Any, pk: int) -> Response:
        numbers.verify_code(self.account(pk), self.body(VerifyCodeSerializer)["code"])
        return ok()


class PinView(_AccountView):
    """Set or change the number's two-step verification PIN."""

    @documented(request=PinSerializer, responses=_DONE)
    def post(self, request: Any, pk: int) -> Response:
        numbers.set_pin(self.account(pk), self.body(PinSerializer)["pin"])
        return ok()


class SubscriptionView(_AccountView):
    """The app's subscription to the account's webhooks (Meta's subscribed_apps)."""

    @documented(
        responses=inline_serializer(
            "Subscriptions", {"success": serializers.BooleanField(), "apps": serializers.ListField()}
        )
    )
    def get(self, request: Any, pk: int) -> Response:
        return ok({"apps": numbers.subscriptions(self.account(pk))})

    @documented(request=SubscriptionSerializer, responses=_DONE)
    def post(self, request: Any, pk: int) -> Response:
        data = self.body(SubscriptionSerializer)
        numbers.subscribe(self.account(pk), data.get("override_callback_uri"), data.get("verify_token"))
        return ok()

    @documented(responses=_DONE)
    def delete(self, request: Any, pk: int) -> Response:
        numbers.unsubscribe(self.account(pk))
        return ok()


class PhoneNumbersView(_AccountView):
    """The numbers of the integration's WhatsApp Business Account, as Meta lists them."""

    @documented(
        responses=inline_serializer(
            "PhoneNumbers", {"success": serializers.BooleanField(), "phone_numbers": serializers.ListField()}
        )
    )
    def get(self, request: Any, pk: int) -> Response:
        return ok({"phone_numbers": numbers.phone_numbers(self.account(pk))})


class QrCodeListView(_AccountView):
    @documented(
        operation_id="integrations_qr_codes_list",
        parameters=[_IMAGE_FORMAT],
        responses=inline_serializer(
            "QrCodes", {"success": serializers.BooleanField(), "qr_codes": QrCodeAnswerSerializer(many=True)}
        ),
    )
    def get(self, request: Any, pk: int) -> Response:
        image_format = request.query_params.get("image_format") or None
        return ok({"qr_codes": numbers.qr_codes(self.account(pk), image_format)})

    @documented(request=QrCodeWriteSerializer, responses={201: _QR})
    def post(self, request: Any, pk: int) -> Response:
        data = self.body(QrCodeWriteSerializer)
        created = numbers.create_qr_code(
            self.account(pk), data["prefilled_message"], data.get("image_format")
        )
        return ok({"qr_code": created}, status=201)


class QrCodeDetailView(_AccountView):
    @documented(parameters=[_IMAGE_FORMAT], responses=_QR)
    def get(self, request: Any, pk: int, code: str) -> Response:
        image_format = request.query_params.get("image_format") or None
        return ok({"qr_code": numbers.qr_code(self.account(pk), code, image_format)})

    @documented(request=QrCodeWriteSerializer, responses=_QR)
    def patch(self, request: Any, pk: int, code: str) -> Response:
        data = self.body(QrCodeWriteSerializer)
        return ok({"qr_code": numbers.update_qr_code(self.account(pk), code, data["prefilled_message"])})

    @documented(responses=_DONE)
    def delete(self, request: Any, pk: int, code: str) -> Response:
        numbers.delete_qr_code(self.account(pk), code)
        return ok()


class BlockedContactsView(ApiView):
    """The integration's contacts on its block list (as last blocked or unblocked here)."""

    actions = {"GET": "read"}

    @documented(responses=ContactSerializer(many=True))
    def get(self, request: Any, pk: int) -> Response:
        account = self.get_scoped_object(BusinessAccount.objects.all(), pk=pk)
        rows = self.scoped(Contact.objects.select_related("account")).filter(account=account)
        return self.paginate(rows.exclude(blocked_at=None).order_by("-blocked_at", "pk"), ContactSerializer)


class ContactBlockView(ApiView):
    """Block the contact at Meta (POST; only a user who wrote in the last 24 hours) or unblock
    it (DELETE). Meta's refusal is 400 BLOCK_FAILED with its code."""

    actions = {"POST": "block_contact", "DELETE": "block_contact"}

    def _change(self, pk: int, blocking: bool) -> Response:
        contact = self.get_scoped_object(Contact.objects.select_related("account"), pk=pk)
        change = blocking_service.block if blocking else blocking_service.unblock
        try:
            outcome = change([contact])
        except blocking_service.ContactNotBlockable as error:
            raise ApiError(400, "INVALID_PARAMETER", str(error)) from None
        if outcome.failed:
            _contact, code, message = outcome.failed[0]
            raise ApiError(400, "BLOCK_FAILED", message or "Meta did not block the user.", {"code": code})
        contact.refresh_from_db(fields=["blocked_at"])
        return ok({"contact": ContactSerializer(contact).data})

    @documented(request=None, responses=ContactSerializer)
    def post(self, request: Any, pk: int) -> Response:
        return self._change(pk, blocking=True)

    @documented(responses=ContactSerializer)
    def delete(self, request: Any, pk: int) -> Response:
        return self._change(pk, blocking=False)
