"""Business accounts: lookup, the Graph client for an account, and the default
account seeded from ``WHATSAPP_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..conf import get_setting, setting_name
from ..exceptions import (
    AccountNotConfigured,
    AccountNotFound,
    DecryptionError,
    EnvironmentSettingError,
    SettingError,
)
from ..models import BusinessAccount

#: Environment variables read by :func:`seed_account_from_env`.
ENV_ACCESS_TOKEN = "WHATSAPP_ACCESS_TOKEN"
ENV_PHONE_NUMBER_ID = "WHATSAPP_PHONE_NUMBER_ID"
ENV_WABA_ID = "WHATSAPP_WABA_ID"
ENV_APP_SECRET = "WHATSAPP_APP_SECRET"
ENV_VERIFY_TOKEN = "WHATSAPP_VERIFY_TOKEN"
ENV_APP_ID = "WHATSAPP_APP_ID"


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
    app_id = env.get(ENV_APP_ID, "").strip()
    if app_id:
        account.app_id = app_id
    account.save()
    return account


def get_account(phone_number_id: str) -> BusinessAccount | None:
    return BusinessAccount.objects.filter(phone_number_id=phone_number_id).first()


def find_account(*, phone_number_id: str | None = None, waba_id: str | None = None) -> BusinessAccount:
    """The account with ``phone_number_id``, or the one number of the WABA
    ``waba_id`` (an active one first), or the only active account when neither
    is given. Raises :class:`AccountNotFound` saying how to choose."""
    if phone_number_id:
        account = get_account(phone_number_id)
        if account is None:
            raise AccountNotFound(f"no WhatsApp account with phone number id {phone_number_id}")
        if waba_id and account.waba_id != waba_id:
            raise AccountNotFound(
                f"account {phone_number_id} belongs to WABA {account.waba_id or '(none)'}, not {waba_id}"
            )
        return account
    if waba_id:
        numbers = list(BusinessAccount.objects.filter(waba_id=waba_id).order_by("-is_active", "pk")[:11])
        active = [a for a in numbers if a.is_active] or numbers
        if not active:
            raise AccountNotFound(f"no WhatsApp account with business account (WABA) id {waba_id}")
        if len(active) > 1:
            ids = ", ".join(a.phone_number_id for a in active[:10])
            raise AccountNotFound(
                f"WABA {waba_id} has several phone numbers ({ids}); choose one by its phone number id"
            )
        return active[0]
    active = list(BusinessAccount.objects.filter(is_active=True)[:11])
    if not active:
        raise AccountNotFound("no active WhatsApp account; create one with setup_whatsapp_account")
    if len(active) > 1:
        ids = ", ".join(a.phone_number_id for a in active[:10])
        raise AccountNotFound(f"several active accounts ({ids}); choose one by its phone number id")
    return active[0]


def check_secrets_readable(account: BusinessAccount) -> None:
    """Decrypt the account's stored secrets once, so a missing or wrong
    ``ENCRYPTION_KEY`` is reported before anything is stored or sent.

    Raises :class:`AccountNotConfigured` naming the setting to fix."""
    for field in ("access_token", "app_secret", "verify_token"):
        if not getattr(account, f"{field}_encrypted", ""):
            continue
        name = field.replace("_", " ")
        try:
            getattr(account, field)
        except DecryptionError as error:
            raise AccountNotConfigured(
                f"the stored {name} of account {account.phone_number_id} cannot be decrypted ({error}): "
                f"set {setting_name('ENCRYPTION_KEY')} to the key it was stored with (or list that key in "
                f"{setting_name('ENCRYPTION_KEY_FALLBACKS')}), or store it again with "
                f"setup_whatsapp_account --{field.replace('_', '-')}"
            ) from None
        except SettingError as error:
            raise AccountNotConfigured(
                f"the stored {name} of account {account.phone_number_id} cannot be decrypted: {error}"
            ) from None


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

    from .instrumentation import measured_client

    # Timed per call for the metrics (services/instrumentation.py); attributes pass through.
    return measured_client(
        Client(
            account.access_token,
            account.phone_number_id,
            waba_id=account.waba_id or None,
            api_version=account.effective_api_version,
            base_url=get_setting("BASE_URL"),
            **options,
        )
    )
