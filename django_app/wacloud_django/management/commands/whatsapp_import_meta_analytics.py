"""Import Meta's own analytics of an account (``MetaDailyFigures``) for a range of UTC days."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from ...services import meta_analytics
from ..base import WacloudCommand


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be a date like 2026-01-31, got {value!r}.") from None


class Command(WacloudCommand):
    help = (
        "Import Meta's analytics of the account for the UTC days --since..--until (inclusive; "
        "default: the last 7 days through today): messages sent and delivered, priced messages "
        "and their cost per pricing category and type, per-template figures. Replaces those days' "
        "rows; run it daily (Meta revises recent days)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--since", help="first UTC day, YYYY-MM-DD (default: 6 days ago)")
        parser.add_argument("--until", help="last UTC day, YYYY-MM-DD (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        account = self.selected_account(options)
        until = _day(options["until"], "--until") if options["until"] else timezone.now().date()
        since = _day(options["since"], "--since") if options["since"] else until - timedelta(days=6)
        try:
            rows = meta_analytics.import_range(account, since, until)
        except meta_analytics.RangeError as error:
            raise CommandError(str(error)) from None
        done = meta_analytics.summary(rows)
        text = (
            f"Imported {done['days']} day(s) ({since}..{until}) of account {account.phone_number_id}: "
            f"{done['sent']} sent, {done['delivered']} delivered, {done['volume']} priced, "
            f"{done['cost']} {done['currency']}."
        )
        self.emit(options, {"since": since, "until": until, **done}, text)
