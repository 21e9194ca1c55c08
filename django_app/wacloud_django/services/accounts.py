"""Business accounts: lookup, the Graph client for an account, and the default
account seeded from ``WHATSAPP_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..conf import get_setting
from ..exceptions import AccountNotConfigured, EnvironmentSettingError
from ..models import BusinessAccount

#: Environment variables read by :func:`seed_account_from_env`.
ENV_ACCESS_TOKEN = "WHATSAPP_ACCESS_TOKEN"
ENV_PHONE_NUMBER_ID = "WHATSAPP_PHONE_NUMBER_ID"
ENV_WABA_ID = "WHATSAPP_WABA_ID"
ENV_APP_SECRET = "WHATSAPP_APP_SECRET"
ENV_VERIFY_TOKEN = "WHATSAPP_VERIFY_TOKEN"


def seed_account_from_env(environ: Mapping[str, str] | None = None) -> BusinessAccount | None:
    """Create or update the account named by ``WHATSAPP_PHONE_NUMBER_ID`` from the
    ``WHATSAPP_*`` variables; ``None`` when neither of the two required ones is set.

    Only the variables that are set overwrite the stored values, so running it
    again (e.g. on every deploy) is safe."""
    env = os.environ if environ is None else environ
    token = env.get(ENV_ACCESS_TOKEN, "").strip()
    phone_number_id = env.get(ENV_PHONE_NUMBER_ID, "").strip()
    if not token and not phone_number_id:
        return None
    if not phone_number_id:
        raise EnvironmentSettingError(
            ENV_PHONE_NUMBER_ID, f"{ENV_ACCESS_TOKEN} is set but {ENV_PHONE_NUMBER_ID} is not"
        )
    if not phone_number_id.isdigit():
        raise EnvironmentSettingError(
            ENV_PHONE_NUMBER_ID,
            f"{ENV_PHONE_NUMBER_ID} must be the numeric phone number id, got {phone_number_id!r}",
        )
    account = BusinessAccount.objects.filter(phone_number_id=phone_number_id).first()
    if account is None:
        if not token:
            raise EnvironmentSettingError(
                ENV_ACCESS_TOKEN, f"{ENV_PHONE_NUMBER_ID} is set but {ENV_ACCESS_TOKEN} is not"
            )
        account = BusinessAccount(phone_number_id=phone_number_id, name="Default (environment)")
    if token:
        account.access_token = token
    waba_id = env.get(ENV_WABA_ID, "").strip()
    if waba_id:
        account.waba_id = waba_id
    app_secret = env.get(ENV_APP_SECRET, "").strip()
    if app_secret:
        account.app_secret = app_secret
    verify_token = env.get(ENV_VERIFY_TOKEN, "").strip()
    if verify_token:
        account.verify_token = verify_token
    account.save()
    return account


def get_account(phone_number_id: str) -> BusinessAccount | None:
    return BusinessAccount.objects.filter(phone_number_id=phone_number_id).first()


def ensure_account(
    phone_number_id: str, *, waba_id: str = "", display_phone_number: str = ""
) -> BusinessAccount:
    """The account for ``phone_number_id``, created (inactive, without a token)
    when a verified webhook names a number nobody configured: its messages are
    kept, and an operator activates it after adding a token."""
    account, _ = BusinessAccount.objects.get_or_create(
        phone_number_id=phone_number_id,
        defaults={
            "waba_id": waba_id,
            "display_phone_number": display_phone_number,
            "name": f"Unconfigured {display_phone_number or phone_number_id}",
            "is_active": False,
        },
    )
    return account


def client_for_account(account: BusinessAccount, **options: Any):
    """A :class:`wacloud.Client` for ``account`` (its token, version and ``BASE_URL``)."""
    if not account.has_access_token:
        raise AccountNotConfigured(f"account {account.phone_number_id} has no access token")
    from wacloud import Client

    return Client(
        account.access_token,
        account.phone_number_id,
        waba_id=account.waba_id or None,
        api_version=account.effective_api_version,
        base_url=get_setting("BASE_URL"),
        **options,
    )
