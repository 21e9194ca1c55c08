"""Admin actions on contacts: block and unblock at Meta. One-line calls into
services/blocking.py, allowed to users whose role in the contact's organization permits
``block_contact`` (agent by default). Registered by :func:`register` (called from admin.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from wacloud.errors import GraphAPIError

from .admin_privacy import _acting, _allowed
from .models import Contact
from .services import blocking


def _report(modeladmin: Any, request: HttpRequest, outcome: blocking.BlockOutcome, verb: str) -> None:
    if outcome.done:
        modeladmin.message_user(request, f"{len(outcome.done)} contact(s) {verb}.", messages.SUCCESS)
    for contact, code, message in outcome.failed:
        modeladmin.message_user(request, f"{contact}: Meta refused ({code}): {message}", messages.WARNING)


def _change(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Contact], blocking_them: bool) -> None:
    contacts = list(queryset.select_related("account__organization").exclude(wa_id="").order_by("pk"))
    if not contacts or not _allowed(modeladmin, request, contacts, "block_contact"):
        return
    try:
        with _acting(request):
            outcome = blocking.block(contacts) if blocking_them else blocking.unblock(contacts)
    except GraphAPIError as error:
        modeladmin.message_user(request, f"Meta refused: {error}", messages.ERROR)
        return
    _report(modeladmin, request, outcome, "blocked" if blocking_them else "unblocked")


@admin.action(description="Block at Meta (users who wrote in the last 24 hours)")
def block_contacts(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
    _change(modeladmin, request, queryset, True)


@admin.action(description="Unblock at Meta")
def unblock_contacts(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
    _change(modeladmin, request, queryset, False)


def register() -> None:
    from .admin import register_action

    register_action(Contact, block_contacts)
    register_action(Contact, unblock_contacts)
