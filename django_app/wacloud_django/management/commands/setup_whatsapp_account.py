"""Create or update a business account. Secrets may come from the environment
(``WHATSAPP_ACCESS_TOKEN``, ``WHATSAPP_APP_SECRET``, ...) so they stay out of
the shell history; flags win over variables."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.test.utils import override_settings

from ...conf import get_setting, user_settings
from ...exceptions import EnvironmentSettingError
from ...services import accounts
from ...services.analytics import account_health
from ..base import WacloudCommand

FLAG_TO_ENV = {
    "access_token": accounts.ENV_ACCESS_TOKEN,
    "phone_number_id": accounts.ENV_PHONE_NUMBER_ID,
    "waba_id": accounts.ENV_WABA_ID,
    "app_secret": accounts.ENV_APP_SECRET,
    "verify_token": accounts.ENV_VERIFY_TOKEN,
}


class Command(WacloudCommand):
    help = "Create or update a WhatsApp business account (secrets are stored encrypted)."
    takes_account = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--name", help="a label for the admin")
        env = {flag: f" (env {variable})" for flag, variable in FLAG_TO_ENV.items()}
        parser.add_argument("--phone-number-id", help="Meta's phone number id" + env["phone_number_id"])
        parser.add_argument("--waba-id", help="the WhatsApp Business Account id" + env["waba_id"])
        parser.add_argument("--access-token", help="safer in the environment" + env["access_token"])
        parser.add_argument("--app-secret", help="verifies webhook signatures" + env["app_secret"])
        parser.add_argument("--verify-token", help="the webhook handshake token" + env["verify_token"])
        parser.add_argument("--display-phone-number", help="the number as people see it")
        parser.add_argument("--api-version", help='Graph API version (default: WACLOUD["API_VERSION"])')
        parser.add_argument(
            "--base-url", help='Graph API base URL for --test-connection (sends use WACLOUD["BASE_URL"])'
        )
        parser.add_argument("--test-connection", action="store_true", help="ask Meta about the number")
        parser.add_argument("--inactive", action="store_true", help="store the account switched off")

    def handle(self, *args: Any, **options: Any) -> None:
        environ = {
            variable: str(options[flag] if options[flag] is not None else os.environ.get(variable, ""))
            for flag, variable in FLAG_TO_ENV.items()
        }
        if not environ[accounts.ENV_PHONE_NUMBER_ID]:
            raise CommandError(f"--phone-number-id (or {accounts.ENV_PHONE_NUMBER_ID}) is required.")
        try:
            account = accounts.seed_account_from_env(environ)
        except EnvironmentSettingError as error:
            flag = next(f for f, v in FLAG_TO_ENV.items() if v == error.variable).replace("_", "-")
            raise CommandError(f"{error} (use --{flag} or the {error.variable} variable)") from None
        assert account is not None
        for field in ("name", "display_phone_number", "api_version"):
            if options[field] is not None:
                setattr(account, field, options[field])
        if options["name"] is None and account.name.startswith("Default"):
            account.name = f"WhatsApp {account.display_phone_number or account.phone_number_id}"
        account.is_active = not options["inactive"]
        account.full_clean(exclude=["access_token_encrypted", "app_secret_encrypted"])
        account.save()
        data: dict[str, Any] = {
            "id": account.pk,
            "name": account.name,
            "phone_number_id": account.phone_number_id,
            "waba_id": account.waba_id,
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
        overrides = {"WACLOUD": {**user_settings(), "BASE_URL": base_url}} if base_url else {}
        try:
            with override_settings(**overrides):
                return account_health(account)
        except Exception as error:
            raise CommandError(f"Account saved, but the connection test failed: {error!r}") from None
