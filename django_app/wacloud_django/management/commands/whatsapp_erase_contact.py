"""Erase one contact (its right to erasure): redact, remove, pseudonymize."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...services import audit, privacy
from ..base import WacloudCommand
from .whatsapp_export_contact import add_contact_arguments, contact_from


class Command(WacloudCommand):
    help = (
        "Erase CONTACT (its id, or its number): messages redacted, media removed, the contact "
        "pseudonymized; the consent history is kept under the pseudonym. Cannot be undone: needs --yes."
    )
    takes_account = False
    needs_secrets = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        add_contact_arguments(parser)
        parser.add_argument("--yes", action="store_true", help="confirm: the erasure cannot be undone")

    def handle(self, *args: Any, **options: Any) -> None:
        contact = contact_from(options)
        if not options["yes"]:
            raise CommandError(f"Erasing contact {contact.pk} cannot be undone: run again with --yes.")
        with audit.acting_as(None, source="command"):
            counts = privacy.erase_contact(contact)
        summary = ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in counts.items())
        self.emit(options, {"contact": contact.pk, **counts}, f"Contact {contact.pk} erased ({summary}).")
