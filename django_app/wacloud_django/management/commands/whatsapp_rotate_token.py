"""Replace an account's access token without downtime, after Meta vouches for the new one."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...services import audit, tokens
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = (
        "Rotate the access token of PHONE_NUMBER_ID: the new token (read from stdin or an environment "
        "variable, never from the command line, which would keep it in shell history) is checked with "
        "Meta's debug_token (valid, not expired, both WhatsApp permissions, the account's WABA), then "
        "stored encrypted. Running processes use it from their next send; no restart."
    )
    takes_account = False
    stealth_options = ("stdin",)  # call_command(..., stdin=StringIO(token)) in tests and scripts

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("phone_number_id", help="the account whose token to replace")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--token-stdin", action="store_true", help="read the new token from stdin")
        source.add_argument(
            "--token-env", metavar="VAR", help="read the new token from environment variable VAR"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        account = self.account(options["phone_number_id"])
        token = self.new_token(options)
        try:
            with audit.acting_as(None, source="command"):
                status = tokens.rotate_access_token(account, token)
        except tokens.TokenRejected as error:
            raise CommandError(f"{error} (reason: {error.reason}); the stored token is unchanged.") from None
        data = {"account": account.phone_number_id, "rotated": True, "token": tokens.describe(status)}
        self.emit(
            options,
            data,
            f"Access token of {account.phone_number_id} rotated: {tokens.render(data['token'])}.",
        )

    def new_token(self, options: dict[str, Any]) -> str:
        if options["token_env"]:
            name = options["token_env"]
            if name not in os.environ:
                raise CommandError(f"Environment variable {name} is not set.")
            return os.environ[name]
        return (options.get("stdin") or sys.stdin).readline()
