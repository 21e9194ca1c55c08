"""The admin for consent. The history is read-only (a record is never changed: a new one
is recorded instead); contacts get two actions that record an opt-out or an opt-in with
the source ``admin``. Loaded by ``wacloud_django.admin`` through :func:`register`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ..models import ConsentRecord, Contact
from ..services import audit
from .services.consent import record_opt_out


class ConsentRecordAdminOptions:
    """The consent history's admin options (combined with wacloud's scoped, audited base in
    :func:`register`, which this module must not import at load time: that module loads this one)."""

    list_display = ["occurred_at", "contact", "purpose", "status", "source", "actor_label"]
    list_filter = ["purpose", "status", "source"]
    search_fields = ["contact__wa_id", "contact__name", "text"]
    date_hierarchy = "occurred_at"
    list_select_related = ["contact"]
    readonly_fields = [
        "contact", "purpose", "status", "text", "source", "message", "actor", "actor_label", "occurred_at",
        "recorded_at",
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Recorded by the consent service only (keywords, API, webhooks, the actions below).

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Append-only.

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # The history is the evidence.


def _record(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Contact], opted_out: bool) -> None:
    with audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR")):
        for contact in queryset:
            record_opt_out(contact, opted_out, text=f"Recorded in the admin by {request.user}")
    verb = "opted out" if opted_out else "opted in"
    modeladmin.message_user(request, f"{queryset.count()} contact(s) recorded as {verb}.", messages.SUCCESS)


@admin.action(description="Record opt-out (no messages at all)")
def record_contacts_opted_out(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
    _record(modeladmin, request, queryset, True)


@admin.action(description="Record opt-in (messages allowed again)")
def record_contacts_opted_in(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
    _record(modeladmin, request, queryset, False)


def register() -> None:
    """The consent admin (scoped like every wacloud admin) and the contact actions."""
    from ..admin import ExtensibleAdmin, register_action

    class ConsentRecordAdmin(ConsentRecordAdminOptions, ExtensibleAdmin):
        pass

    admin.site.register(ConsentRecord, ConsentRecordAdmin)
    from .campaign_admin import register as register_campaigns  # campaigns: progress, pause/resume/cancel

    register_campaigns()
    register_action(Contact, record_contacts_opted_out)
    register_action(Contact, record_contacts_opted_in)
    from .confirmation_admin import register as register_confirmations

    register_confirmations()
