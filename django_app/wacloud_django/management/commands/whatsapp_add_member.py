"""Give a user a role in an organization, and optionally an API token."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from ...models import Role
from ...services import audit, members
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = (
        "Add USER (created when --create-user is given) to an organization with a role, and with "
        "--token print a new API token for them (shown once)."
    )
    takes_account = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("username")
        parser.add_argument("--role", choices=Role.values, default=Role.AGENT, help="default: agent")
        parser.add_argument(
            "--organization", metavar="SLUG", help="the organization's slug (default: the default one)"
        )
        parser.add_argument("--organization-name", help="create the organization with this name if missing")
        parser.add_argument("--create-user", action="store_true", help="create the user when missing")
        parser.add_argument("--email", default="", help="the new user's email (with --create-user)")
        parser.add_argument("--token", action="store_true", help="print a new API token for the user")

    def handle(self, *args: Any, **options: Any) -> None:
        with audit.acting_as(None, source="command"):
            try:
                result = members.add_member_by_name(
                    options["username"],
                    role=options["role"],
                    organization_slug=options["organization"],
                    organization_name=options["organization_name"],
                    create_user=options["create_user"],
                    email=options["email"],
                    issue_token=options["token"],
                )
            except (get_user_model().DoesNotExist, ValueError) as error:
                raise CommandError(str(error)) from None
        text = (
            f"{result['username']} is {result['role']} in {result['organization']}"
            f" ({'added' if result['created'] else 'role updated'})."
        )
        if result.get("token"):
            text += f"\nAPI token (shown once): {result['token']}"
        self.emit(options, result, text)
