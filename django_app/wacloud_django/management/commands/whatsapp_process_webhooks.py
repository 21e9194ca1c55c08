"""Process pending webhook events in batches (``WACLOUD["WEBHOOK_BATCH"]``), once or as a
long-running processor."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...exceptions import SettingError
from ...services.webhook_batch import batch_settings, drain, drain_forever
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = (
        "Claim pending webhook events in batches and process each batch in one transaction. "
        "Several may run side by side (each batch is claimed by one). With --loop it keeps "
        'running and looks for new events every --poll seconds (WACLOUD["WEBHOOK_BATCH"]["DRAIN"] '
        '= "command" leaves the draining to it); stop it with SIGTERM or Ctrl-C.'
    )
    takes_account = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help='events per batch (default WACLOUD["WEBHOOK_BATCH"]["SIZE"])',
        )
        parser.add_argument("--loop", action="store_true", help="keep running until stopped")
        parser.add_argument(
            "--poll",
            type=float,
            default=0.2,
            metavar="SECONDS",
            help="--loop: how long to wait when nothing is pending (default 0.2)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        size = options["batch_size"]
        if size is not None and size < 1:
            raise CommandError("--batch-size must be a positive integer.")
        if options["poll"] <= 0:
            raise CommandError("--poll must be a positive number of seconds.")
        try:
            batch_settings()
        except SettingError as error:
            raise CommandError(str(error)) from None
        if options["loop"]:
            stopping: list[int] = []
            for number in (signal.SIGTERM, signal.SIGINT):
                signal.signal(number, lambda received, frame: stopping.append(received))
            counts = dict(drain_forever(options["poll"], lambda: bool(stopping), limit=size))
        else:
            counts = drain(limit=size).counts
        summary = (
            ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "nothing to do"
        )
        self.emit(
            options, {"processed": sum(counts.values()), "by_status": counts}, f"Webhook events: {summary}."
        )
