"""Re-encrypt every secret, encrypted message field and media file with ``WACLOUD["ENCRYPTION_KEY"]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...services import audit
from ...services.key_rotation import BATCH_SIZE, KINDS, rotate_keys
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = (
        'Move everything encrypted to WACLOUD["ENCRYPTION_KEY"] (keep the old key in '
        "ENCRYPTION_KEY_FALLBACKS until this is done): account secrets, message text and content, "
        "captions and media files; with ENCRYPT_MESSAGES/ENCRYPT_MEDIA on, plaintext rows are encrypted "
        "too. Works in batches by primary key; a run that stops resumes where it stopped."
    )
    takes_account = False
    needs_secrets = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--dry-run", action="store_true", help="only count what would be re-encrypted")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"rows per transaction (default {BATCH_SIZE})"
        )
        parser.add_argument(
            "--kind",
            action="append",
            choices=[kind.name for kind in KINDS],
            help="only this kind (repeatable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError(f"--batch-size must be a positive integer, got {options['batch_size']}")
        with audit.acting_as(None, source="command"):
            result = rotate_keys(
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
                kinds=options["kind"],
                progress=self.progress(options, "Re-encrypting"),
            )
        verb = "would be re-encrypted" if options["dry_run"] else "re-encrypted"
        summary = ", ".join(
            f"{counts['changed']} {kind.replace('_', ' ')}" for kind, counts in result["kinds"].items()
        )
        errors = "".join(f"\n  cannot read {error}" for error in result["errors"])
        self.emit(options, result, f"Key {result['key_id']}: {summary} {verb}.{errors}")
        if result["error_count"]:
            # Every other row was moved; these need their key in ENCRYPTION_KEY_FALLBACKS.
            raise CommandError(
                f"{result['error_count']} value(s) could not be decrypted with the configured keys"
            )
