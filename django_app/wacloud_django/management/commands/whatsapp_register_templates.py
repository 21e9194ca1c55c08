"""Register seed 004's default templates (services/default_templates.py) at Meta."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...services.default_templates import DEFAULT_LANGUAGES, register_default_templates
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = "Submit the default help desk templates to the account's WABA (those it lacks)."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--language",
            action="append",
            dest="languages",
            metavar="CODE",
            help=f"a template language, repeatable (default: {' and '.join(DEFAULT_LANGUAGES)})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        account = self.selected_account(options)
        languages = tuple(dict.fromkeys(options["languages"] or DEFAULT_LANGUAGES))
        result = register_default_templates(account, languages)
        self.emit(options, {"account": account.phone_number_id, **result}, _as_text(result))
        if result["failed"]:
            raise CommandError(f"{len(result['failed'])} template(s) not registered (see above).")


def _as_text(result: dict[str, list[dict[str, Any]]]) -> str:
    lines = [f"Created {len(result['created'])}, skipped {len(result['skipped'])} (already there), "
             f"failed {len(result['failed'])}."]  # fmt: skip
    for entry in result["created"]:
        lines.append(f"  created  {entry['name']} ({entry['language']}): {entry['status']}")
    for entry in result["skipped"]:
        lines.append(f"  skipped  {entry['name']} ({entry['language']})")
    for entry in result["failed"]:
        lines.append(f"  failed   {entry['name']} ({entry['language']}): {entry['error']}")
    return "\n".join(lines)
