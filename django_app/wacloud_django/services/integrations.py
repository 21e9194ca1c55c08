"""Integrations (seed 002): the business accounts of an organization, managed by its
admins over the API and the pages. Every write is audited with secrets masked."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ..conf import get_setting
from ..models import BusinessAccount, Organization
from . import audit, numbers
from .analytics import account_health

#: The fields an integration's owner may set (secrets are write-only).
EDITABLE = (
    "name",
    "display_phone_number",
    "phone_number_id",
    "waba_id",
    "app_id",
    "api_version",
    "is_active",
    "rate_limit_per_second",
    "rate_limit_per_hour",
)
SECRETS = ("access_token", "app_secret", "verify_token")


class IntegrationConflict(ValueError):
    """Another account already has this phone number id."""


def _state(account: BusinessAccount) -> dict[str, Any]:
    state = {name: getattr(account, name) for name in EDITABLE}
    state.update({name: getattr(account, f"{name}_encrypted") for name in SECRETS})
    return state


def _assign(account: BusinessAccount, data: Mapping[str, Any]) -> None:
    """The editable fields given, and the secrets given (an empty secret keeps the stored one)."""
    for name in EDITABLE:
        if name in data:
            setattr(account, name, data[name])
    for name in SECRETS:
        if data.get(name):
            setattr(account, name, data[name])


def create_integration(organization: Organization, data: Mapping[str, Any]) -> tuple[BusinessAccount, str]:
    """A new account in ``organization``; returns it and its verify token (generated when not
    given), which the caller shows once."""
    verify_token = data.get("verify_token") or secrets.token_urlsafe(24)
    with transaction.atomic():
        if BusinessAccount.objects.filter(phone_number_id=data["phone_number_id"]).exists():
            raise IntegrationConflict(f"phone number id {data['phone_number_id']} is already an integration")
        account = BusinessAccount(organization=organization)
        _assign(account, data)
        account.verify_token = verify_token
        account.save()
        audit.record(
            "integration.create",
            organization=organization,
            target=account,
            changes=audit.changes_between({}, _state(account)),
        )
        if get_setting("SUBSCRIBE_ON_SETUP") and account.waba_id and account.has_access_token:
            # A call to Meta: after the commit, never holding the transaction open.
            transaction.on_commit(lambda: numbers.subscribe_on_setup(account))
    return account, verify_token


def update_integration(account: BusinessAccount, data: Mapping[str, Any]) -> BusinessAccount:
    with transaction.atomic():
        before = _state(account)
        _assign(account, data)
        if (
            "phone_number_id" in data
            and BusinessAccount.objects.filter(phone_number_id=data["phone_number_id"])
            .exclude(pk=account.pk)
            .exists()
        ):
            raise IntegrationConflict(f"phone number id {data['phone_number_id']} is already an integration")
        account.save()
        changes = audit.changes_between(before, _state(account))
        if changes:
            audit.record(
                "integration.update", organization=account.organization, target=account, changes=changes
            )
    return account


def toggle_integration(account: BusinessAccount) -> BusinessAccount:
    return update_integration(account, {"is_active": not account.is_active})


def delete_integration(account: BusinessAccount, *, purge: bool = False) -> str:
    """Archive the account (inactive, hidden from the list, history kept), or with ``purge``
    delete it with its contacts, conversations, messages and media. Returns what was done."""
    with transaction.atomic():
        if purge:
            audit.record("integration.purge", organization=account.organization, target=account)
            account.delete()
            return "purged"
        before = _state(account)
        account.is_active = False
        account.archived_at = timezone.now()
        account.save(update_fields=["is_active", "archived_at", "updated_at"])
        audit.record(
            "integration.archive",
            organization=account.organization,
            target=account,
            changes=audit.changes_between(before, _state(account)),
        )
    return "archived"


def test_integration(account: BusinessAccount) -> dict[str, Any]:
    """The connection test: ask Meta about the number. ``{"ok": True, ...}`` or
    ``{"ok": False, "error": ..., "error_type": ...}`` (never raises for Meta's answer)."""
    try:
        return {"ok": True, **account_health(account)}
    except Exception as error:  # reported to the caller: that is the point of a test
        return {
            "ok": False,
            "error": str(error),
            "error_type": type(error).__name__,
            "code": getattr(error, "code", None),
        }


def webhook_url(account: BusinessAccount, request: Any = None) -> str:
    """The URL to paste into Meta's dashboard for this account."""
    try:
        path = reverse("wacloud:webhook-account", args=[account.phone_number_id])
    except NoReverseMatch:
        return ""
    return request.build_absolute_uri(path) if request is not None else path
