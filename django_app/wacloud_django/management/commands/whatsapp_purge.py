"""Redact or delete what is past its retention period (``WACLOUD["RETENTION"]``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from ...services import audit
from ...services.retention import BATCH_SIZE, purge_expired_data, retention_days
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = (
        "Redact message content and remove media, webhook events and audit entries older than "
        'their retention period (WACLOUD["RETENTION"]), in batches of short transactions. '
        "Celery beat runs the same as the purge_expired_data task; run this from cron without it."
    )
    takes_account = False
    needs_secrets = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--dry-run", action="store_true", help="only count what would go")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"rows per statement (default {BATCH_SIZE})"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with audit.acting_as(None, source="command"):
            counts = purge_expired_data(
                dry_run=options["dry_run"],
                batch_size=max(1, options["batch_size"]),
                progress=self.progress(options, "Purging"),
            )
        verb = "would be purged" if options["dry_run"] else "purged"
        summary = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in counts.items())
        self.emit(
            options,
            {"dry_run": options["dry_run"], "counts": counts, "retention_days": retention_days()},
            f"Expired data {verb}: {summary}.",
        )
