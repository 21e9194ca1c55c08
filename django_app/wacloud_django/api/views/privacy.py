"""contacts/<id>/export (everything stored about the contact, as a zip archive) and
contacts/<id>/erase (the right to erasure). Role ``admin`` for both (actions
``export_contact`` and ``erase_contact``); docs/privacy.md."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.response import Response

from ...models import Contact
from ...services import privacy
from ..base import ApiView, documented, ok


class ContactExportView(ApiView):
    actions = {"GET": "export_contact", "HEAD": "export_contact"}

    @documented(
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="contact.json and the media files"
            )
        }
    )
    def get(self, request: Any, pk: int) -> HttpResponse:
        """Everything stored about the contact: ``contact.json`` (contact, conversations,
        messages, media, consent history, audit entries) and ``media/`` files, zipped."""
        contact = self.get_scoped_object(Contact.objects.select_related("account__organization"), pk=pk)
        archive = privacy.export_contact(contact)
        response = HttpResponse(archive, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.zip"'
        return response


class ContactEraseView(ApiView):
    actions = {"POST": "erase_contact"}

    @documented(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Any, pk: int) -> Response:
        """Erase the contact: messages redacted, media removed, the contact pseudonymized
        (its consent history is kept under the pseudonym). Cannot be undone."""
        contact = self.get_scoped_object(Contact.objects.all(), pk=pk)
        counts = privacy.erase_contact(contact)
        return ok({"contact": contact.pk, "erased": counts})
