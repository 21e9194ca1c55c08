"""What the wacloud management commands share: account lookup, ``--format json``
output and a small progress bar written to the command's stdout."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ..models import BusinessAccount


class WacloudCommand(BaseCommand):
    """A command with ``--format text|json`` (and ``--account`` when it acts on one)."""

    takes_account = True

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")
        if self.takes_account:
            parser.add_argument(
                "--account", metavar="PHONE_NUMBER_ID", help="the account (default: the only active one)"
            )

    def account(self, phone_number_id: str | None) -> BusinessAccount:
        if phone_number_id:
            account = BusinessAccount.objects.filter(phone_number_id=phone_number_id).first()
            if account is None:
                raise CommandError(f"No WhatsApp account with phone number id {phone_number_id}.")
            return account
        active = list(BusinessAccount.objects.filter(is_active=True)[:11])
        if not active:
            raise CommandError("No active WhatsApp account; create one with setup_whatsapp_account.")
        if len(active) > 1:
            names = ", ".join(a.phone_number_id for a in active[:10])
            raise CommandError(f"Several active accounts ({names}); choose one with --account.")
        return active[0]

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
