"""The RSA key pair of the WhatsApp Flows endpoint: make one, upload its public half for an
account's number, or show what Meta holds (docs/flows.md, "Keys")."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...exceptions import SettingError
from ...services import flows
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = (
        "generate: write a new private key (--out, mode 0600) and print its public key; "
        'upload: send the public half of WACLOUD["FLOWS_PRIVATE_KEY"] for the account\'s number; '
        "show: the key Meta holds for the number and whether it is the configured one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("action", choices=["generate", "upload", "show"])
        parser.add_argument("--out", metavar="PATH", help="generate: where to write the private key")
        parser.add_argument("--force", action="store_true", help="generate: overwrite --out if it exists")
        parser.add_argument(
            "--password-env", metavar="VARIABLE", help="generate: encrypt the key with this variable's value"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "generate":
                self._generate(options)
            elif options["action"] == "upload":
                held = flows.upload_public_key(self.selected_account(options))
                status = held.get("business_public_key_signature_status", "unknown")
                self.emit(options, held, f"Public key uploaded; Meta's signature status: {status}.")
            else:
                held = flows.remote_public_key(self.selected_account(options))
                match = {True: "the configured key", False: "NOT the configured key", None: "unchecked"}
                text = (
                    f"Meta holds {match[held['matches_configured']]} "
                    f"({held.get('business_public_key_signature_status', 'no key uploaded')})."
                )
                self.emit(options, held, text)
        except (SettingError, FileExistsError) as error:
            raise CommandError(str(error)) from None

    def _generate(self, options: dict[str, Any]) -> None:
        if not options["out"]:
            raise CommandError("generate needs --out PATH: a private key is never printed")
        password = None
        if options["password_env"]:
            password = os.environ.get(options["password_env"])
            if not password:
                raise CommandError(f"the environment variable {options['password_env']} is not set")
        private_pem, public_pem = flows.generate_key_pair(password)
        path = flows.save_private_key(options["out"], private_pem, overwrite=options["force"])
        data = {"private_key_path": str(path), "public_key": public_pem, "encrypted": password is not None}
        text = (
            f'Private key written to {path} (mode 0600). Set WACLOUD["FLOWS_PRIVATE_KEY"] = {str(path)!r}'
            + (' and WACLOUD["FLOWS_PRIVATE_KEY_PASSWORD"]' if password else "")
            + ", then run: manage.py whatsapp_flows_key upload --account PHONE_NUMBER_ID\n\n"
            + public_pem
        )
        self.emit(options, data, text)
