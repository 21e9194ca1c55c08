"""Rebuild the analytics rollup (``DailyRollup``) for a range of UTC days."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from ...models import Organization
from ...services.analytics_rollup import rebuild
from ..base import WacloudCommand


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be a date like 2026-01-31, got {value!r}.") from None


class Command(WacloudCommand):
    help = (
        "Recompute the analytics rollup for the UTC days --since..--until (inclusive; default: the "
        "last 30 days through yesterday), replacing those days' rows. The rollup_analytics beat task "
        "keeps recent days current; run this after importing history or to fill the past."
    )
    takes_account = False
    needs_secrets = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--since", help="first UTC day, YYYY-MM-DD (default: 30 days ago)")
        parser.add_argument("--until", help="last UTC day, YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--organization", help="one organization's slug (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        yesterday = timezone.now().date() - timedelta(days=1)
        until = _day(options["until"], "--until") if options["until"] else yesterday
        since = _day(options["since"], "--since") if options["since"] else until - timedelta(days=29)
        if since > until:
            raise CommandError(f"--since ({since}) must be on or before --until ({until}).")
        organization = None
        if options["organization"]:
            organization = Organization.objects.filter(slug=options["organization"]).first()
            if organization is None:
                raise CommandError(f"No organization with the slug {options['organization']!r}.")
        done = rebuild(since, until, organization)
        text = (
            f"Rolled up {done['days']} day(s) ({since}..{until}) for {done['organizations']} "
            f"organization(s): {done['rows']} rows, {done['failed']} failed."
        )
        self.emit(options, {"since": since, "until": until, **done}, text)
        if done["failed"]:
            raise CommandError(f"{done['failed']} organization-day(s) failed; see the log.")
