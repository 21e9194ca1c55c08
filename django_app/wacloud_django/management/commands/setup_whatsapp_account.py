"""Create or update a business account. Secrets may come from the environment
(``WHATSAPP_ACCESS_TOKEN``, ``WHATSAPP_APP_SECRET``, ...) so they stay out of
the shell history; flags win over variables."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.test.utils import override_settings

from ...conf import get_setting, user_settings
from ...exceptions import AccountNotConfigured, EnvironmentSettingError
from ...models import BusinessAccount
from ...services import accounts, audit
from ...services.analytics import account_health
from ..base import WacloudCommand

FLAG_TO_ENV = {
    "access_token": accounts.ENV_ACCESS_TOKEN,
    "phone_number_id": accounts.ENV_PHONE_NUMBER_ID,
    "waba_id": accounts.ENV_WABA_ID,
    "app_secret": accounts.ENV_APP_SECRET,
    "verify_token": accounts.ENV_VERIFY_TOKEN,
    "app_id": accounts.ENV_APP_ID,
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class Command(WacloudCommand):
    help = "Create or update a WhatsApp business account (secrets are stored encrypted)."
    takes_account = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--name", help="a label for the admin")
        env = {flag: f" (env {variable})" for flag, variable in FLAG_TO_ENV.items()}
        parser.add_argument("--phone-number-id", help="Meta's phone number id" + env["phone_number_id"])
        parser.add_argument(
            "--waba-id",
            "--business-account-id",
            dest="waba_id",
            help="the WhatsApp Business Account id" + env["waba_id"],
        )
        parser.add_argument("--access-token", help="safer in the environment" + env["access_token"])
        parser.add_argument("--app-secret", help="verifies webhook signatures" + env["app_secret"])
        parser.add_argument(
            "--verify-token",
            "--webhook-verify-token",
            dest="verify_token",
            help="the webhook handshake token" + env["verify_token"],
        )
        parser.add_argument("--app-id", help="the Meta app the token belongs to" + env["app_id"])
        parser.add_argument("--display-phone-number", help="the number as people see it")
        parser.add_argument("--api-version", help='Graph API version (default: WACLOUD["API_VERSION"])')
        parser.add_argument(
            "--base-url", help='Graph API base URL for --test-connection (sends use WACLOUD["BASE_URL"])'
        )
        parser.add_argument("--test-connection", action="store_true", help="ask Meta about the number")
        parser.add_argument("--inactive", action="store_true", help="store the account switched off")

    def handle(self, *args: Any, **options: Any) -> None:
        environ: dict[str, str] = {}
        given: dict[str, str] = {}  # variable -> how the user gave it, for error messages
        for flag, variable in FLAG_TO_ENV.items():
            if options[flag] is not None:
                environ[variable] = str(options[flag]).strip()
                given[variable] = f"{_flag(flag)} {options[flag]!r}"
            else:
                environ[variable] = os.environ.get(variable, "").strip()
                given[variable] = f"{variable}={environ[variable]!r}"
        phone_number_id = environ[accounts.ENV_PHONE_NUMBER_ID]
        if not phone_number_id:
            raise CommandError(f"--phone-number-id (or {accounts.ENV_PHONE_NUMBER_ID}) is required.")
        if (
            phone_number_id.isdigit()
            and not environ[accounts.ENV_ACCESS_TOKEN]
            and not BusinessAccount.objects.filter(phone_number_id=phone_number_id).exists()
        ):
            raise CommandError(
                f"{given[accounts.ENV_PHONE_NUMBER_ID]} names a new account, which needs an access token: "
                f"give --access-token or the {accounts.ENV_ACCESS_TOKEN} variable."
            )
        try:
            account = accounts.seed_account_from_env(environ)
        except EnvironmentSettingError as error:
            flag = next(f for f, v in FLAG_TO_ENV.items() if v == error.variable)
            detail = str(error)
            if options[flag] is not None:  # say it as the user did: with the flag
                detail = detail.replace(error.variable, _flag(flag), 1)
            raise CommandError(f"{detail} (you gave {given[error.variable]}).") from None
        assert account is not None
        for field in ("name", "display_phone_number", "api_version"):
            if options[field] is not None:
                setattr(account, field, options[field])
        if options["name"] is None and account.name.startswith("Default"):
            account.name = f"WhatsApp {account.display_phone_number or account.phone_number_id}"
        account.is_active = not options["inactive"]
        account.full_clean(
            exclude=["access_token_encrypted", "app_secret_encrypted", "verify_token_encrypted"]
        )
        with transaction.atomic(), audit.acting_as(None, source="command"):
            account.save()
            flags = [*FLAG_TO_ENV, "name", "display_phone_number", "api_version"]
            given_fields = {flag: options[flag] for flag in flags if options[flag] is not None}
            audit.record("integration.setup", organization=account.organization, target=account,
                         changes=audit.changes_between({}, given_fields))  # fmt: skip
        data: dict[str, Any] = {
            "id": account.pk,
            "name": account.name,
            "phone_number_id": account.phone_number_id,
            "waba_id": account.waba_id,
            "app_id": account.app_id,
            "is_active": account.is_active,
            "access_token_set": account.has_access_token,
            "app_secret_set": account.has_app_secret,
        }
        text = f"Account {account} saved (phone number id {account.phone_number_id}, id {account.pk})."
        if options["test_connection"]:
            data["connection"] = self.test_connection(account, options["base_url"])
            health = data["connection"]
            text += (
                f"\nConnection OK: {health['verified_name']} ({health['display_phone_number']}), "
                f"quality {health['quality_rating']}."
            )
        elif options["base_url"] and options["base_url"] != get_setting("BASE_URL"):
            text += f'\nNote: sends use WACLOUD["BASE_URL"] = {get_setting("BASE_URL")}, not --base-url.'
        self.emit(options, data, text)

    def test_connection(self, account: Any, base_url: str | None) -> dict[str, Any]:
        try:
            accounts.check_secrets_readable(account)
        except AccountNotConfigured as error:
            raise CommandError(f"Account saved, but {error}.") from None
        overrides = {"WACLOUD": {**user_settings(), "BASE_URL": base_url}} if base_url else {}
        try:
            with override_settings(**overrides):
                return account_health(account)
        except Exception as error:
            raise CommandError(f"Account saved, but the connection test failed: {error!r}") from None
