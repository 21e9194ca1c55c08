"""What the wacloud management commands share: account lookup, ``--format json``
output and a small progress bar written to the command's stdout."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ..exceptions import AccountNotConfigured, AccountNotFound
from ..models import BusinessAccount
from ..services.accounts import check_secrets_readable, find_account


class WacloudCommand(BaseCommand):
    """A command with ``--format text|json`` (and ``--account`` or
    ``--business-account-id`` when it acts on one account)."""

    takes_account = True
    #: Whether the command uses the account's token or secrets (checked readable up front).
    needs_secrets = True

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")
        if self.takes_account:
            parser.add_argument(
                "--account", metavar="PHONE_NUMBER_ID", help="the account (default: the only active one)"
            )
            parser.add_argument(
                "--business-account-id",
                metavar="WABA_ID",
                help="the account by its WhatsApp Business Account id (its one phone number)",
            )

    def account(self, phone_number_id: str | None, waba_id: str | None = None) -> BusinessAccount:
        """The account chosen by ``--account``/``--business-account-id`` (default:
        the only active one), its secrets checked readable when the command needs them."""
        try:
            account = find_account(phone_number_id=phone_number_id, waba_id=waba_id)
        except AccountNotFound as error:
            hint = "" if phone_number_id else " (use --account PHONE_NUMBER_ID)"
            message = str(error)
            raise CommandError(message[:1].upper() + message[1:] + hint + ".") from None
        if self.needs_secrets:
            try:
                check_secrets_readable(account)
            except AccountNotConfigured as error:
                message = str(error)
                raise CommandError(message[:1].upper() + message[1:] + ".") from None
        return account

    def selected_account(self, options: dict[str, Any]) -> BusinessAccount:
        """:meth:`account` for the command's ``--account``/``--business-account-id`` options."""
        return self.account(options.get("account"), options.get("business_account_id"))

    def emit(self, options: dict[str, Any], data: Any, text: str) -> None:
        """``data`` as one JSON document with ``--format json``, else ``text``."""
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str))
        else:
            self.stdout.write(text)

    def progress(self, options: dict[str, Any], label: str) -> ProgressBar | None:
        """A progress bar, except with ``--format json`` (stdout must stay one document)."""
        return None if options["format"] == "json" else ProgressBar(self.stdout, label)


class ProgressBar:
    """``label [#########.........]  9/20``, redrawn in place; a callable ``(done, total)``."""

    def __init__(self, stream: Any, label: str, width: int = 30) -> None:
        self.stream, self.label, self.width = stream, label, width

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // total if total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        ending = "\n" if done >= total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}", ending=ending)
        self.stream.flush()
