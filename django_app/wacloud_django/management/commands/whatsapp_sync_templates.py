"""Sync message templates from Meta into the database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from ...services.templates import sync_templates
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = "Fetch the account's templates from its WABA: create, update, mark deleted."

    def handle(self, *args: Any, **options: Any) -> None:
        account = self.selected_account(options)
        try:
            counts = sync_templates(account, progress=self.progress(options, "Templates"))
        except Exception as error:
            raise CommandError(f"Template sync for {account.phone_number_id} failed: {error!r}") from None
        summary = ", ".join(f"{count} {what}" for what, count in counts.items())
        self.emit(options, {"account": account.phone_number_id, **counts}, f"Templates synced: {summary}.")
