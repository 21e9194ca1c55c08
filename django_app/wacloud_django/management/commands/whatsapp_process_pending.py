"""Finish webhook events still pending or failed (retriable), without Celery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import CommandParser

from ...services.webhooks import finish_unfinished_events
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = (
        "Process, in this process, the stored webhook events that are still pending (a worker or "
        "web process died, the broker was down) or failed with a retriable error. Needs no Celery; "
        "run it from cron in projects without Celery beat."
    )
    takes_account = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--older-than",
            type=int,
            default=0,
            metavar="SECONDS",
            help="only events received at least this long ago (default 0: all)",
        )
        parser.add_argument("--limit", type=int, default=None, help="at most this many events")
        parser.add_argument(
            "--pending-only", action="store_true", help="leave failed events alone; only finish pending ones"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = finish_unfinished_events(
            older_than=timedelta(seconds=options["older_than"]),
            limit=options["limit"],
            include_failed=not options["pending_only"],
            progress=self.progress(options, "Webhook events"),
        )
        total = sum(counts.values())
        summary = (
            ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "nothing to do"
        )
        self.emit(options, {"processed": total, "by_status": counts}, f"Webhook events: {summary}.")
