"""contacts/<id>/consent: a contact's consent history (read) and a grant or revocation
recorded through the API (role ``reply``); docs/automation.md."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from ...automation.services import consent as consent_service
from ...models import ConsentRecord, Contact
from ..base import ApiView, documented, ok
from ..serializers.consent import ConsentRecordSerializer, ConsentWriteSerializer


class ContactConsentView(ApiView):
    actions = {"GET": "read", "POST": "reply"}

    @documented(
        parameters=[
            OpenApiParameter("purpose", str, enum=ConsentRecord.Purpose.values),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=ConsentRecordSerializer(many=True),
    )
    def get(self, request: Any, pk: int) -> Response:
        """The history, newest first, and ``consent``: the current state of every purpose."""
        contact = self.get_scoped_object(Contact.objects.all(), pk=pk)
        rows = self.scoped(ConsentRecord.objects.select_related("message")).filter(contact=contact)
        if request.query_params.get("purpose"):
            rows = rows.filter(purpose=request.query_params["purpose"])
        response = self.paginate(rows.order_by("-occurred_at", "-pk"), ConsentRecordSerializer)
        response.data["consent"] = consent_service.current_consent(contact)
        return response

    @documented(request=ConsentWriteSerializer, responses={201: ConsentRecordSerializer})
    def post(self, request: Any, pk: int) -> Response:
        contact = self.get_scoped_object(Contact.objects.all(), pk=pk)
        body = ConsentWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        record = consent_service.record_consent(
            contact, data["purpose"], data["status"], source=ConsentRecord.Source.API,
            text=data.get("text", ""), actor=request.user,
        )  # fmt: skip
        return ok(
            {
                "record": ConsentRecordSerializer(record).data,
                "consent": consent_service.current_consent(contact),
            },
            status=201,
        )
