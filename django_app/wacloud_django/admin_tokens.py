"""Admin actions for access tokens: check one with Meta, and rotate it through a form.
One-line calls into services/tokens.py, allowed to users whose role in the account's
organization permits ``manage_integrations`` (admin by default). Registered on the
account admin by :func:`register` (called from admin.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from django import forms
from wacloud.errors import WacloudError

from .exceptions import AccountNotConfigured
from .models import BusinessAccount
from .services import audit, tenancy, tokens


class RotateTokenForm(forms.Form):
    access_token = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        help_text="Checked with Meta (valid, unexpired, WhatsApp permissions, this WABA) before storing.",
    )


def _allowed(modeladmin: Any, request: HttpRequest, accounts: list[BusinessAccount]) -> bool:
    refused = [
        a for a in accounts if not tenancy.has_role(request.user, a.organization, "manage_integrations")
    ]
    if refused:
        names = ", ".join(a.phone_number_id for a in refused)
        modeladmin.message_user(
            request, f"Your role does not allow managing account(s) {names}: nothing done.", messages.ERROR
        )
    return not refused


@admin.action(description="Check access token with Meta (expiry, permissions)")
def check_tokens(modeladmin: Any, request: HttpRequest, queryset: QuerySet[BusinessAccount]) -> None:
    for account in queryset:
        try:
            status = tokens.refresh_token_status(account)
        except (WacloudError, AccountNotConfigured) as error:
            modeladmin.message_user(request, f"{account}: token not checked: {error}", messages.ERROR)
            continue
        data = tokens.describe(status)
        level = messages.SUCCESS if status.is_valid and not status.missing_permissions else messages.WARNING
        modeladmin.message_user(request, f"{account}: token {tokens.render(data)}.", level)


@admin.action(description="Rotate access token")
def rotate_token(modeladmin: Any, request: HttpRequest, queryset: QuerySet[BusinessAccount]) -> Any:
    accounts = list(queryset.select_related("organization")[:2])
    if len(accounts) != 1:
        modeladmin.message_user(request, "Choose exactly one account to rotate its token.", messages.ERROR)
        return None
    if not _allowed(modeladmin, request, accounts):
        return None
    account = accounts[0]
    form = RotateTokenForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        try:
            with audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR")):
                status = tokens.rotate_access_token(
                    account, form.cleaned_data["access_token"], actor=request.user
                )
        except tokens.TokenRejected as error:
            form.add_error("access_token", f"{error} (the stored token is unchanged)")
        else:
            text = tokens.render(tokens.describe(status))
            modeladmin.message_user(request, f"{account}: access token rotated; {text}.", messages.SUCCESS)
            return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "form": form,
        "account": account,
        "title": f"Rotate the access token of {account}",
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/wacloud/businessaccount/rotate_token.html", context)


def register() -> None:
    from .admin import register_action

    register_action(BusinessAccount, check_tokens)
    register_action(BusinessAccount, rotate_token)
