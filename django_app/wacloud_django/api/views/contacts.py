"""contacts (list, search, create), contacts/<id> (read, update: name, tags, opt-out, the
host-project object it is linked to)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from ...models import Contact
from ...services import contacts as contact_service
from ..base import ApiView, documented, ok
from ..serializers.resources import ContactSerializer
from .messaging import account_for


class ContactWriteSerializer(serializers.Serializer):
    wa_id = serializers.CharField(required=False, max_length=64, help_text="The number (create only).")
    user_id = serializers.CharField(
        required=False, max_length=140, help_text="The business-scoped user id (create only)."
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    opted_out = serializers.BooleanField(required=False)
    linked_object = serializers.DictField(
        required=False,
        allow_null=True,
        help_text='{"model": "app_label.model", "id": "42"} or null to unlink',
    )
    account = serializers.CharField(required=False, help_text="phone number id (create only)")


class ContactListView(ApiView):
    actions = {"GET": "read", "POST": "reply"}

    @documented(
        parameters=[
            OpenApiParameter("search", str, description="name, number or business-scoped user id"),
            OpenApiParameter("tag", str),
            OpenApiParameter("account", str),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=ContactSerializer(many=True),
    )
    def get(self, request: Any) -> Response:
        rows = self.scoped(Contact.objects.select_related("account", "linked_content_type"))
        params = request.query_params
        if params.get("search"):
            term = params["search"]
            rows = rows.filter(
                Q(name__icontains=term) | Q(wa_id__contains=term.lstrip("+")) | Q(user_id=term.strip())
            )
        if params.get("tag"):
            rows = (
                rows.filter(tags__contains=[params["tag"]])
                if _json_contains()
                else rows.filter(tags__icontains=f'"{params["tag"]}"')
            )
        if params.get("account"):
            rows = rows.filter(account__phone_number_id=params["account"])
        return self.paginate(rows.order_by("-updated_at", "-pk"), ContactSerializer)

    @documented(request=ContactWriteSerializer, responses={201: ContactSerializer})
    def post(self, request: Any) -> Response:
        body = ContactWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if not data.get("wa_id") and not data.get("user_id"):
            raise serializers.ValidationError({"wa_id": "required to create a contact (or user_id)"})
        account = account_for(self, data.pop("account", None))
        contact, created = contact_service.create_contact(account, data)
        return ok(
            {"contact": ContactSerializer(contact).data, "created": created}, status=201 if created else 200
        )


class ContactDetailView(ApiView):
    actions = {"GET": "read", "PATCH": "reply"}

    @documented(responses=ContactSerializer)
    def get(self, request: Any, pk: int) -> Response:
        contact = self.get_scoped_object(Contact.objects.select_related("account"), pk=pk)
        return ok({"contact": ContactSerializer(contact).data})

    @documented(request=ContactWriteSerializer, responses=ContactSerializer)
    def patch(self, request: Any, pk: int) -> Response:
        contact = self.get_scoped_object(Contact.objects.select_related("account"), pk=pk)
        body = ContactWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        create_only = ("wa_id", "user_id", "account")
        data = {key: value for key, value in body.validated_data.items() if key not in create_only}
        return ok({"contact": ContactSerializer(contact_service.update_contact(contact, data)).data})


def _json_contains() -> bool:
    from django.db import connection

    return connection.features.supports_json_field_contains
