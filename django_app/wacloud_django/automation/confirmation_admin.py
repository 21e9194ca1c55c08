"""The admin for Y/N confirmations: a read-only list with filters (only the confirmation
service changes a confirmation: a reply, the expiry task, the API's cancel). Loaded by
``automation.admin.register``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ..models import Confirmation


class ConfirmationAdminOptions:
    list_display = ["requested_at", "contact", "action_type", "description", "status", "expires_at",
                    "resolved_at"]  # fmt: skip
    list_filter = ["status", "action_type", "account"]
    search_fields = ["contact__wa_id", "contact__name", "action_type", "description"]
    date_hierarchy = "requested_at"
    list_select_related = ["contact"]
    readonly_fields = [
        "organization", "account", "contact", "action_type", "description", "details", "payload", "status",
        "timeout_minutes", "requested_at", "sent_at", "expires_at", "resolved_at", "request_message",
        "reply_message", "requested_by", "error",
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Asked through the service (the API, code) so the question is sent.

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Resolved by the contact's reply, the expiry task or the API's cancel.

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # The record of what was asked and answered.


def register() -> None:
    """The confirmations admin, scoped like every wacloud admin."""
    from ..admin import ExtensibleAdmin

    class ConfirmationAdmin(ConfirmationAdminOptions, ExtensibleAdmin):
        pass

    admin.site.register(Confirmation, ConfirmationAdmin)
