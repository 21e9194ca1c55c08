"""Export everything stored about one contact as a zip archive."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...models import Contact
from ...services import audit, privacy
from ..base import WacloudCommand


def contact_from(options: dict[str, Any]) -> Contact:
    try:
        return privacy.find_contact(options["contact"], options.get("account"))
    except (Contact.DoesNotExist, ValueError) as error:
        raise CommandError(str(error) or f"no contact {options['contact']!r}") from None


def add_contact_arguments(parser: CommandParser) -> None:
    """CONTACT and --account, as the export and erase commands take them."""
    parser.add_argument("contact", help="the contact's id, or its number (+ and country code)")
    parser.add_argument(
        "--account", metavar="PHONE_NUMBER_ID", help="the account, when several know the number"
    )


class Command(WacloudCommand):
    help = (
        "Write a zip archive of everything stored about CONTACT (its id, or its number): contact.json "
        "(contact, conversations, messages, media, consent history, audit entries) and the media files."
    )
    takes_account = False
    needs_secrets = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        add_contact_arguments(parser)
        parser.add_argument("--output", "-o", help="the archive's path (default: contact-<id>.zip)")

    def handle(self, *args: Any, **options: Any) -> None:
        contact = contact_from(options)
        path = options["output"] or f"contact-{contact.pk}.zip"
        with audit.acting_as(None, source="command"):
            privacy.export_contact(contact, path)
        self.emit(options, {"contact": contact.pk, "path": path}, f"Contact {contact.pk} exported to {path}.")
