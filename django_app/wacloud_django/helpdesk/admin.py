"""The help desk's admin: tickets (status, priority and assignee editable, saved through
``update_ticket`` so the change is audited like the API's), their thread inline and read-only,
and the sessions read-only. Loaded by ``wacloud_django.admin`` through :func:`register`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ..services import audit
from .models import HelpdeskSession, Ticket, TicketComment
from .services.tickets import UPDATABLE, update_ticket


class TicketCommentInline(admin.TabularInline):
    model = TicketComment
    extra = 0
    fields = ["created_at", "author", "user", "text", "message", "attachment"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Comments come from messages (and agents' replies through POST send).


class TicketAdminOptions:
    list_display = [
        "number",
        "subject",
        "status",
        "priority",
        "assignee",
        "contact",
        "sla_due_at",
        "created_at",
    ]
    list_filter = ["status", "priority"]
    search_fields = ["=number", "subject", "contact__wa_id", "contact__name"]
    list_select_related = ["contact", "assignee"]
    raw_id_fields = ["assignee"]
    readonly_fields = [
        "organization", "account", "contact", "number", "subject", "message", "sla_due_at", "closed_at",
        "created_at", "updated_at",
    ]  # fmt: skip
    inlines = [TicketCommentInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Opened from messages (or by a backend's own code).

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in UPDATABLE}
        if changes:
            with audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR")):
                update_ticket(obj, changes, actor=request.user)


class HelpdeskSessionAdminOptions:
    list_display = ["contact", "ticket_number", "is_active", "started_at", "last_activity_at"]
    list_filter = ["is_active"]
    search_fields = ["contact__wa_id", "ticket_number"]
    readonly_fields = ["account", "contact", "ticket_number", "is_active", "started_at", "last_activity_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.action(description="Register default templates")
def register_default_templates_action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    """Seed 004's default templates for each selected account (services/default_templates.py)."""
    from ..services.default_templates import register_default_templates

    for account in queryset:
        with audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR")):
            result = register_default_templates(account)
        failed = "; ".join(f"{f['name']} ({f['language']}): {f['error']}" for f in result["failed"])
        modeladmin.message_user(
            request,
            f"{account}: created {len(result['created'])}, skipped {len(result['skipped'])}, "
            f"failed {len(result['failed'])}" + (f": {failed}" if failed else "."),
            messages.ERROR if failed else messages.SUCCESS,
        )


def register() -> None:
    """The help desk's admins, scoped like every wacloud admin, and the accounts'
    "Register default templates" action."""
    from ..admin import ExtensibleAdmin, register_action
    from ..models import BusinessAccount

    register_action(BusinessAccount, register_default_templates_action)

    class TicketAdmin(TicketAdminOptions, ExtensibleAdmin):
        pass

    class HelpdeskSessionAdmin(HelpdeskSessionAdminOptions, ExtensibleAdmin):
        pass

    admin.site.register(Ticket, TicketAdmin)
    admin.site.register(HelpdeskSession, HelpdeskSessionAdmin)
