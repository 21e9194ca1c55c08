"""send, messages/send, conversations, conversations/<id>/messages, conversations/<id>/read,
messages/<whatsapp_id>."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from wacloud.errors import GraphAPIError, RateLimited

from ...conf import use_celery
from ...helpdesk.services.tickets import check_agent_reply, record_agent_reply
from ...models import BusinessAccount, Contact, Conversation, Message
from ...services.conversations import mark_conversation_read
from ...services.outbound import send_message
from ..base import ApiView, documented, ok
from ..errors import ApiError, error_response
from ..serializers.resources import ConversationSerializer, MessageSerializer
from ..serializers.send import SendSerializer, SentSerializer


def account_for(view: ApiView, phone_number_id: str | None) -> BusinessAccount:
    """The sending account: the one named (of this organization), else the only active one."""
    accounts = view.scoped(BusinessAccount.objects.all())
    if phone_number_id:
        return view.get_scoped_object(BusinessAccount.objects.all(), phone_number_id=phone_number_id)
    active = list(accounts.filter(is_active=True)[:2])
    if len(active) != 1:
        problem = "has no active account" if not active else "has several active accounts"
        raise ApiError(
            400,
            "ACCOUNT_REQUIRED",
            f"This organization {problem}: name one with 'account'.",
            {"account": "the phone number id of the sending account"},
        )
    return active[0]


class SendView(ApiView):
    """Send a message (seeds 000 and 004). Free-form messages need the ``reply`` role,
    templates ``send_template``. Without Celery the send happens before the answer
    (``messageId`` is Meta's wamid); with Celery it is queued (202, ``messageId`` null)."""

    def action_for(self, request: Any) -> str:
        if request.method != "POST":
            return "read"
        kind = request.data.get("type") if isinstance(request.data, dict) else None
        return "send_template" if kind == "template" else "reply"

    @documented(request=SendSerializer, responses={200: SentSerializer, 202: SentSerializer})
    def post(self, request: Any) -> Response:
        body = SendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        shaped = dict(body.validated_data)
        account = account_for(self, shaped.pop("account"))
        check_agent_reply(account, shaped["reference"], shaped["to"])  # help desk: the ticket's customer
        queue = use_celery()
        message = send_message(account, shaped.pop("to"), enqueue=queue, **shaped)
        if message.status == Message.Status.FAILED:
            return _failed(message)
        record_agent_reply(message, request.user)  # help desk: a reply naming a ticket joins its thread
        answer = {
            "messageId": message.wamid,
            "id": message.pk,
            "status": message.status,
            "reference": message.reference,
        }
        return ok(answer, status=202 if message.status == Message.Status.QUEUED else 200)


def _failed(message: Message) -> Response:
    details = {"id": message.pk, "code": message.error_code, "failure_kind": message.failure_kind}
    error = getattr(message, "delivery_error", None)  # Meta's error, when the send ran now
    if isinstance(error, GraphAPIError):
        details.update(subcode=error.subcode, type=type(error).__name__, fbtrace_id=error.fbtrace_id)
        if isinstance(error, RateLimited):
            wait = str(int((error.retry_after or 60) + 0.999))
            text = message.error_message
            return error_response(429, "WHATSAPP_RATE_LIMITED", text, details, Retry_After=wait)
    if message.failure_kind == Message.SendFailure.UNKNOWN:
        return error_response(502, "DELIVERY_UNKNOWN", message.error_message, details)
    if message.failure_kind == Message.SendFailure.RETRIABLE:
        return error_response(503, "SEND_FAILED_RETRIABLE", message.error_message, details)
    return error_response(400, "WHATSAPP_API_ERROR", message.error_message, details)


_CONVERSATION_FILTERS = [
    OpenApiParameter("status", str, enum=["open", "closed"]),
    OpenApiParameter("account", str, description="phone number id"),
    OpenApiParameter("unread", bool, description="only conversations with unread messages"),
    OpenApiParameter("search", str, description="contact name or number"),
    OpenApiParameter("limit", int),
    OpenApiParameter("offset", int),
]


class ConversationListView(ApiView):
    @documented(parameters=_CONVERSATION_FILTERS, responses=ConversationSerializer(many=True))
    def get(self, request: Any) -> Response:
        rows = self.scoped(
            Conversation.objects.select_related(
                "contact", "contact__account", "contact__linked_content_type", "account"
            )
        )
        params = request.query_params
        if params.get("status"):
            rows = rows.filter(status=params["status"])
        if params.get("account"):
            rows = rows.filter(account__phone_number_id=params["account"])
        if params.get("unread") in ("1", "true", "yes"):
            rows = rows.filter(unread_count__gt=0)
        if params.get("search"):
            term = params["search"]
            number = term.lstrip("+")
            named = Q(contact__name__icontains=term) | Q(contact__wa_id__contains=number)
            rows = rows.filter(named | Q(contact__user_id=term))
        return self.paginate(rows.order_by("-last_message_at", "-pk"), ConversationSerializer)


class ConversationMessagesView(ApiView):
    @documented(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=MessageSerializer(many=True),
    )
    def get(self, request: Any, pk: int) -> Response:
        conversation = self.get_scoped_object(Conversation.objects.all(), pk=pk)
        rows = Message.objects.filter(conversation=conversation).select_related("contact")
        return self.paginate(rows.order_by("-timestamp", "-pk"), MessageSerializer)


class ConversationReadView(ApiView):
    actions = {"POST": "reply"}

    @documented(
        request=None,
        responses=inline_serializer(
            "ReadAnswer",
            {
                "success": serializers.BooleanField(),
                "unread_count": serializers.IntegerField(),
                "receipt": serializers.DictField(),
            },
        ),
    )
    def post(self, request: Any, pk: int) -> Response:
        conversation = self.get_scoped_object(Conversation.objects.select_related("account"), pk=pk)
        data = request.data if isinstance(request.data, dict) else {}  # a list or null: defaults
        send_receipt = str(data.get("receipt", "true")).lower() not in ("false", "0", "no")
        return ok(mark_conversation_read(conversation, send_receipt=send_receipt))


class MessageHistoryView(ApiView):
    """``messages/<whatsapp_id>``: a contact's history by their WhatsApp id (seed 000), or one
    message by its wamid."""

    @documented(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=MessageSerializer(many=True),
    )
    def get(self, request: Any, whatsapp_id: str) -> Response:
        if whatsapp_id.startswith("wamid."):
            message = self.get_scoped_object(Message.objects.select_related("contact"), wamid=whatsapp_id)
            return ok({"message": MessageSerializer(message).data})
        # A number, or the business-scoped user id (US.1349...) of a contact known by it.
        by_id = Q(user_id=whatsapp_id) if "." in whatsapp_id else Q(pk__in=[])
        contacts = self.scoped(Contact.objects.all()).filter(Q(wa_id=whatsapp_id.lstrip("+")) | by_id)
        if not contacts.exists():
            raise ApiError(404, "NOT_FOUND", f"No contact {whatsapp_id} in this organization.")
        rows = Message.objects.filter(contact__in=contacts).select_related("contact")
        return self.paginate(rows.order_by("-timestamp", "-pk"), MessageSerializer)
