"""tickets (list: ?status=&contact=), tickets/<number> (read with its thread; PATCH status,
priority, assignee with the ``reply`` role, i.e. agents and above). Scoped to the request's
organization: another organization's ticket is a 404. Writes go through
``services.tickets.update_ticket`` (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from ..api.base import ApiView, documented, ok
from ..services import tenancy
from .models import Ticket, TicketComment
from .services.tickets import update_ticket


class TicketCommentSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.get_username", read_only=True, allow_null=True, default=None)
    whatsapp_id = serializers.CharField(source="message.wamid", read_only=True, allow_null=True, default=None)
    attachment = serializers.SerializerMethodField()

    class Meta:
        model = TicketComment
        fields = ["id", "author", "user", "text", "whatsapp_id", "attachment", "created_at"]
        read_only_fields = fields

    def get_attachment(self, comment: TicketComment) -> dict[str, Any] | None:
        media = comment.attachment
        if media is None:
            return None
        return {"id": media.pk, "media_id": media.media_id, "mime_type": media.mime_type,
                "filename": media.filename, "sha256": media.sha256 or None}  # fmt: skip


class TicketSerializer(serializers.ModelSerializer):
    contact = serializers.SerializerMethodField()
    account = serializers.CharField(source="account.phone_number_id", read_only=True)
    assignee = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = ["id", "number", "subject", "status", "priority", "assignee", "sla_due_at", "contact",
                  "account", "created_at", "updated_at", "closed_at"]  # fmt: skip
        read_only_fields = fields

    def get_contact(self, ticket: Ticket) -> dict[str, Any]:
        return {"id": ticket.contact_id, "wa_id": ticket.contact.wa_id, "name": ticket.contact.name}

    def get_assignee(self, ticket: Ticket) -> dict[str, Any] | None:
        user = ticket.assignee
        return {"id": user.pk, "username": user.get_username()} if user is not None else None


class TicketDetailSerializer(TicketSerializer):
    comments = TicketCommentSerializer(many=True, read_only=True)

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "comments"]
        read_only_fields = fields


class TicketUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)
    assignee = serializers.IntegerField(
        required=False, allow_null=True, help_text="a member's user id, or null"
    )

    def validate_assignee(self, value: int | None) -> Any:
        if value is None:
            return None
        user = get_user_model().objects.filter(pk=value, is_active=True).first()
        if user is None or tenancy.role_of(user, self.context["organization"]) is None:
            raise serializers.ValidationError("not a member of this organization")
        return user


_RELATED = ("contact", "account", "assignee")


class TicketListView(ApiView):
    actions = {"GET": "read"}

    @documented(
        parameters=[
            OpenApiParameter("status", str, enum=Ticket.Status.values),
            OpenApiParameter("contact", str, description="contact id or wa_id"),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=TicketSerializer(many=True),
    )
    def get(self, request: Any) -> Response:
        rows = self.scoped(Ticket.objects.select_related(*_RELATED))
        params = request.query_params
        if params.get("status"):
            rows = rows.filter(status=params["status"])
        if params.get("contact"):
            wanted = params["contact"].lstrip("+")
            rows = rows.filter(contact__pk=int(wanted)) if wanted.isascii() and wanted.isdigit() and \
                len(wanted) < 10 else rows.filter(contact__wa_id=wanted)  # fmt: skip
        return self.paginate(rows.order_by("-created_at", "-pk"), TicketSerializer)


class TicketDetailView(ApiView):
    actions = {"GET": "read", "PATCH": "reply"}

    def _ticket(self, number: str) -> Ticket:
        if not (number.isascii() and number.isdigit()):
            raise Http404
        return self.get_scoped_object(Ticket.objects.select_related(*_RELATED), number=int(number))

    @documented(responses=TicketDetailSerializer)
    def get(self, request: Any, number: str) -> Response:
        ticket = self._ticket(number)
        return ok({"ticket": TicketDetailSerializer(ticket).data})

    @documented(request=TicketUpdateSerializer, responses=TicketDetailSerializer)
    def patch(self, request: Any, number: str) -> Response:
        ticket = self._ticket(number)
        body = TicketUpdateSerializer(
            data=request.data, partial=True, context={"organization": self.organization}
        )
        body.is_valid(raise_exception=True)
        updated = update_ticket(ticket, dict(body.validated_data), actor=request.user)
        return ok({"ticket": TicketDetailSerializer(updated).data})
