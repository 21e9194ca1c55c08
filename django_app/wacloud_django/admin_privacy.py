"""Admin actions for a contact's rights: export (a zip archive) and erase. One-line
calls into services/privacy.py, allowed to users whose role in the contact's
organization permits ``export_contact``/``erase_contact`` (admin by default).
Registered on the contact admin by :func:`register` (called from admin.py)."""

from __future__ import annotations

import zipfile
from io import BytesIO
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .models import Contact
from .services import audit, privacy, tenancy


def _allowed(modeladmin: Any, request: HttpRequest, contacts: list[Contact], action: str) -> bool:
    refused = [c for c in contacts if not tenancy.has_role(request.user, c.account.organization, action)]
    if refused:
        names = ", ".join(str(contact.pk) for contact in refused)
        modeladmin.message_user(
            request, f"Your role does not allow this for contact(s) {names}: nothing done.", messages.ERROR
        )
    return not refused


def _acting(request: HttpRequest) -> Any:
    return audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR"))


@admin.action(description="Export everything stored about the contact (zip)")
def export_contacts(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[Contact]
) -> HttpResponse | None:
    contacts = list(queryset.select_related("account__organization").order_by("pk"))
    if not _allowed(modeladmin, request, contacts, "export_contact"):
        return None
    with _acting(request):
        archives = {f"contact-{contact.pk}.zip": privacy.export_contact(contact) for contact in contacts}
    if len(archives) == 1:
        (name, data), *_ = archives.items()
    else:  # one archive per contact, in one download
        buffer = BytesIO()
        with zipfile.ZipFile(buffer, "w") as bundle:
            for inner, data in archives.items():
                bundle.writestr(inner, data)
        name, data = "contacts.zip", buffer.getvalue()
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin.action(description="Erase the contact (redact messages, remove media, pseudonymize)")
def erase_contacts(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[Contact]
) -> TemplateResponse | None:
    contacts = list(queryset.select_related("account__organization").order_by("pk"))
    if not _allowed(modeladmin, request, contacts, "erase_contact"):
        return None
    if request.POST.get("confirm") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "contacts": contacts,
            "title": "Erase contacts",
            "opts": modeladmin.model._meta,
        }
        return TemplateResponse(request, "admin/wacloud/contact/erase.html", context)
    with _acting(request):
        for contact in contacts:
            privacy.erase_contact(contact)
    modeladmin.message_user(request, f"{len(contacts)} contact(s) erased.", messages.SUCCESS)
    return None


def register() -> None:
    from .admin import register_action

    register_action(Contact, export_contacts)
    register_action(Contact, erase_contacts)
